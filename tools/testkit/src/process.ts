import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { P2pdError } from '@p2pd/interface'

/** Thrown when a real server the tests need is not installed. Never turned into a skip in CI. */
export class MissingServerError extends P2pdError {
  declare readonly code: 'TESTKIT_MISSING_SERVER'

  constructor(binary: string, debianPackage: string) {
    super(
      'TESTKIT_MISSING_SERVER',
      `${binary} not found: install the Debian package '${debianPackage}' ` +
        `(npm test does this itself when run as root)`,
    )
  }
}

/** Absolute path of `binary` on PATH (plus /usr/sbin, /sbin), or throws {@link MissingServerError}. */
export function requireBinary(binary: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin']
  for (const dir of dirs) {
    const full = join(dir, binary)
    try {
      accessSync(full, constants.X_OK)
      return full
    } catch {}
  }
  throw new MissingServerError(binary, debianPackage)
}

export interface ServerProcess {
  readonly pid: number
  readonly child: ChildProcess
  /** Everything the process wrote so far (stdout + stderr), for error messages. */
  output(): string
  /** Stops this process (SIGTERM, then SIGKILL after `graceMs`) by its PID. */
  stop(graceMs?: number): Promise<void>
}

export interface SpawnServerOptions {
  /** Shown in errors. */
  name: string
  command: string
  args: readonly string[]
  /** Polled until it resolves true; the server is then ready. */
  ready: () => Promise<boolean>
  /** How long to wait for `ready` (default 10 s). */
  readyTimeoutMs?: number
  cwd?: string
  env?: NodeJS.ProcessEnv
}

const running = new Set<ServerProcess>()
process.once('exit', () => {
  for (const s of running) s.child.kill('SIGKILL')
})

/**
 * Starts a real server process and waits until it answers. Tear it down with `stop()`;
 * any still running when the test process exits are killed by PID.
 */
export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  const append = (b: Buffer) => {
    log = (log + b.toString()).slice(-20_000)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let spawnError: Error | undefined
  child.once('error', (e) => {
    spawnError = e
  })

  const server: ServerProcess = {
    get pid() {
      return child.pid ?? -1
    },
    child,
    output: () => log,
    async stop(graceMs = 3000) {
      running.delete(server)
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
  running.add(server)

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000)
  while (Date.now() < deadline) {
    if (spawnError) break
    if (child.exitCode !== null) break
    if (await opts.ready().catch(() => false)) return server
    await new Promise((r) => setTimeout(r, 50))
  }
  await server.stop()
  const why = spawnError
    ? spawnError.message
    : child.exitCode !== null
      ? `exited with ${child.exitCode}`
      : 'not ready in time'
  throw new Error(`${opts.name} failed to start (${why}):\n${log}`)
}

/** Whether a process with this PID exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
