import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const stampModule = fileURLToPath(new URL('../src/stamp.ts', import.meta.url))

// The worker's idle timer is 10 s; a process that still waited for it would exit that late.
const EXIT_BOUND_MS = 5_000

const SCRIPT = `
const { mintStamp } = await import(${JSON.stringify(stampModule)})
const hold = setInterval(() => {}, 1_000) // the worker alone keeps nothing alive
const stamp = await mintStamp(new Uint8Array(32).fill(7), 12)
clearInterval(hold)
process.stdout.write('minted ' + stamp + ' ' + JSON.stringify(process.getActiveResourcesInfo()) + '\\n')
`

describe('stamp worker', () => {
  it('does not keep a process alive once its mints are done', {
    timeout: 60_000,
    retry: 2,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2pd-stamp-'))
    try {
      const file = join(dir, 'mint-once.mjs')
      await writeFile(file, SCRIPT)
      const child = spawn(process.execPath, ['--import', 'tsx', file], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      let mintedAt = 0
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (!mintedAt && out.includes('minted')) mintedAt = performance.now()
      })
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString()
      })
      const code = await new Promise<number | null>((r) => child.once('close', r))
      const lingered = performance.now() - mintedAt
      expect(code, err).toBe(0)
      // The line lists what was still open after the mint (the worker's port was, before).
      expect(out).toMatch(/^minted [0-9a-f]{16} /)
      expect(lingered, out).toBeLessThan(EXIT_BOUND_MS)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
