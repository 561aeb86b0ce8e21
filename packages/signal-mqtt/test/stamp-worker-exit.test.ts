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

// Nothing but the mint is open: the pending mint itself must keep the process alive.
const BARE_SCRIPT = `
const { mintStamp } = await import(${JSON.stringify(stampModule)})
const stamp = await mintStamp(new Uint8Array(32).fill(7), 12)
process.stdout.write('minted ' + stamp + '\\n')
`

async function runScript(
  source: string,
): Promise<{ code: number | null; out: string; err: string; lingered: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pd-stamp-'))
  try {
    const file = join(dir, 'mint-once.mjs')
    await writeFile(file, source)
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
    return { code, out, err, lingered: performance.now() - mintedAt }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('stamp worker', () => {
  it('keeps the process alive while a mint is awaited (no silent exit)', {
    timeout: 60_000,
  }, async () => {
    const { code, out, err } = await runScript(BARE_SCRIPT)
    expect(code, err).toBe(0)
    expect(out).toMatch(/^minted [0-9a-f]{16}\n$/)
  })

  it('does not keep a process alive once its mints are done', {
    timeout: 60_000,
    retry: 2,
  }, async () => {
    const { code, out, err, lingered } = await runScript(SCRIPT)
    expect(code, err).toBe(0)
    // The line lists what was still open after the mint (the worker's port was, before).
    expect(out).toMatch(/^minted [0-9a-f]{16} /)
    expect(lingered, out).toBeLessThan(EXIT_BOUND_MS)
  })
})
