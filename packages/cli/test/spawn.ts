import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { bundle } from '../../../tools/natlab/test/bundle.js'

/**
 * `p2pd` from source, bundled once per test file (see tools/natlab/test/bundle.ts): plain Node
 * starts it in about a third of the CPU tsx needs, and these files start dozens. The CLI reads
 * its package.json next to src/cli.ts, so `import.meta.url` keeps that file's URL.
 */
const bin = await bundle(
  fileURLToPath(new URL('../src/bin.ts', import.meta.url)),
  new URL('../src/cli.ts', import.meta.url).href,
)

/** Starts `p2pd <args>` from source as its own process (what a user runs, minus the build). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Collects a started process's output until it exits. */
export function finished(child: ChildProcess): Promise<Finished> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  return new Promise((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Runs `p2pd <args>` to completion (stdin closed at once). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  const child = startCli(args, env)
  child.stdin?.end()
  return finished(child)
}

/** Resolves with the first stderr line of `child` matching `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => done(new Error(`no line matching ${pattern} in: ${buf}`)), ms)
    const onData = (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n').find((l) => pattern.test(l))
      if (line !== undefined) done(undefined, line)
    }
    const onExit = () => done(new Error(`exited before ${pattern}: ${buf}`))
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolve(line as string)
    }
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
  })
}
