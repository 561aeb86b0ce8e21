import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

/** Runs `pnpm lab …` the way the root script does; resolves with its exit code and output. */
function lab(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--conditions=@p2pd/source', cli, ...args],
      { cwd: root, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0
        resolve({ code: typeof code === 'number' ? code : 1, out: stdout + stderr })
      },
    )
  })
}

describe('pnpm lab <command> --help', () => {
  // A --help that fell through once ran a whole matrix (hours, root, namespaces).
  it.each(['matrix', 'up', 'selfcheck', 'nat-check', 'bench-p2pd', 'probe', 'down'])(
    '%s --help prints the usage and exits 0 without building a lab',
    async (cmd) => {
      const [r, plain] = await Promise.all([lab([cmd, '--help']), lab([])])
      expect(r.code).toBe(0)
      expect(r.out).toMatch(/^usage: pnpm lab <command>/m)
      // Nothing but the usage: no progress line of a lab coming up.
      expect(r.out).toBe(plain.out)
    },
    40_000,
  )
})
