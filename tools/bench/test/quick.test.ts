// The CI smoke run: `pnpm bench --quick` for raw TCP and p2pd only (no js-libp2p or hyperdht
// install), into a temporary file; every figure must be there and positive.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { nodeArgs } from '../src/child.js'
import type { BenchResults } from '../src/results.js'
import { validate } from '../src/results.js'

it('pnpm bench --quick measures raw TCP and p2pd and writes well-formed results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2pd-bench-test-'))
  const out = join(dir, 'results.json')
  try {
    const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')
    const args = [
      '--quick',
      '--impl',
      'raw,p2pd',
      '--only',
      'bulk,echo,pingpong,dial,heap',
      '--out',
      out,
    ]
    await promisify(execFile)(process.execPath, nodeArgs(cli, args), { timeout: 240_000 })
    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchResults
    expect(validate(results)).toEqual([])
    expect(Object.keys(results.metrics).sort()).toEqual([
      'bulk',
      'dial',
      'echo',
      'heap',
      'pingpong',
    ])
    for (const metric of Object.values(results.metrics)) {
      expect(Object.keys(metric.results).sort()).toEqual(['p2pd', 'raw'])
      expect(metric.results.p2pd?.ratio).toBeGreaterThan(0)
    }
    expect(results.quick).toBe(true)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 300_000)
