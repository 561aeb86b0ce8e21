/**
 * The `p2pd` command line (`packages/cli`) inside lab namespaces, for end-to-end tests:
 * {@link startCli} runs one `p2pd …` process in a namespace (from source, through tsx, as
 * {@link runInNamespace} does) and {@link p2pdInfraServer} plugs `p2pd infra` into the lab as
 * its infrastructure, exposing the client config it prints.
 *
 * Every lab namespace shares the machine's `/etc/machine-id`, from which a node derives its
 * machine ID: two CLI nodes in two lab hosts would take each other for the same machine and
 * dial loopback. {@link startCli} gives each process its own machine id by bind-mounting a
 * file over `/etc/machine-id` inside the mount namespace `ip netns exec` already creates for
 * the process (nothing changes outside it).
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnInNamespace } from './exec.js'
import { nodeTsArgv, PACKAGE_DIR } from './node-in-ns.js'
import type { LabServer } from './servers.js'

/** `packages/cli/src/bin.ts`: the `p2pd` entry point, run from source. */
export const CLI_BIN = join(PACKAGE_DIR, '..', '..', 'packages', 'cli', 'src', 'bin.ts')

/** A running `p2pd` process: its output so far, its exit, line waits, a stop by PID. */
export class CliProcess {
  private readonly out: Buffer[] = []
  private err = ''
  /** Resolves when the process has exited and its streams are closed. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(
    readonly ns: string,
    readonly args: readonly string[],
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => this.out.push(d))
    child.stderr?.on('data', (d: Buffer) => {
      this.err += d.toString()
    })
    // A peer that exits first must not crash the test with EPIPE on stdin.
    child.stdin?.on('error', () => {})
    this.closed = new Promise((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }))
    })
  }

  /** The process's own PID (`ip netns exec` and the wrapper shell exec in place). */
  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Everything written to stdout so far. */
  get stdout(): Buffer {
    return Buffer.concat(this.out)
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.err
  }

  /** The first stderr line matching `pattern` (waits up to `ms`; rejects on exit). */
  waitForLine(pattern: RegExp, ms = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const find = () => this.err.split('\n').find((l) => pattern.test(l))
      const now = find()
      if (now !== undefined) return resolve(now)
      const cleanup = () => {
        clearTimeout(timer)
        this.child.stderr?.off('data', onData)
        this.child.off('exit', onExit)
      }
      const onData = () => {
        const line = find()
        if (line === undefined) return
        cleanup()
        resolve(line)
      }
      const onExit = (code: number | null) => {
        // Let the last stderr chunk land first.
        setImmediate(() => {
          const line = find()
          cleanup()
          if (line !== undefined) resolve(line)
          else reject(new Error(`${this.describe()} exited ${code} before ${pattern}: ${this.err}`))
        })
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(
          new Error(`${this.describe()}: no line matching ${pattern} in ${ms} ms: ${this.err}`),
        )
      }, ms)
      this.child.stderr?.on('data', onData)
      this.child.once('exit', onExit)
    })
  }

  /** Resolves with stdout (as text) once `done(text)` holds; rejects after `ms` or on exit. */
  waitForStdout(done: (text: string) => boolean, ms: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = this.stdout.toString()
        if (!done(text)) return false
        clearTimeout(timer)
        this.child.stdout?.off('data', onData)
        this.child.stdout?.off('close', onData)
        resolve(text)
        return true
      }
      const onData = () => {
        // After our own 'data' handler has appended the chunk.
        setImmediate(check)
      }
      const timer = setTimeout(() => {
        this.child.stdout?.off('data', onData)
        this.child.stdout?.off('close', onData)
        reject(new Error(`${this.describe()}: stdout incomplete after ${ms} ms: ${this.stdout}`))
      }, ms)
      if (check()) return
      this.child.stdout?.on('data', onData)
      this.child.stdout?.on('close', onData)
    })
  }

  /** Waits for the exit, at most `ms` (then rejects with what it printed). */
  async exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.describe()} still running after ${ms} ms: ${this.err}`)),
        ms,
      )
    })
    try {
      return await Promise.race([this.closed, late])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stops it by PID: SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 3000): Promise<void> {
    const c = this.child
    if (c.exitCode !== null || c.signalCode !== null) return
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs)
    await this.closed
    clearTimeout(timer)
  }

  describe(): string {
    return `p2pd ${this.args[0] ?? ''} in ${this.ns} (pid ${this.pid})`
  }
}

export interface StartCliOptions {
  /** Scratch directory for this process's machine-id file. */
  readonly dir: string
  readonly env?: NodeJS.ProcessEnv
}

/** This process's environment minus `P2PD_*`: only the flags given configure the CLI. */
function ownEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('P2PD_')))
}

/**
 * Starts `p2pd ARGS` in namespace `ns` with a machine id of its own (see the module comment)
 * and no `P2PD_*` variables from this environment (`opts.env` may set some).
 * The returned process's PID is Node's own.
 */
export function startCli(ns: string, args: readonly string[], opts: StartCliOptions): CliProcess {
  const idFile = join(opts.dir, `machine-id-${randomBytes(4).toString('hex')}`)
  writeFileSync(idFile, `${randomBytes(16).toString('hex')}\n`)
  const [node, ...rest] = nodeTsArgv(CLI_BIN, args)
  const child = spawnInNamespace(
    ns,
    '/bin/sh',
    ['-c', 'mount --bind "$0" /etc/machine-id && exec "$@"', idFile, node as string, ...rest],
    { cwd: PACKAGE_DIR, env: { ...ownEnv(), ...opts.env } },
  )
  return new CliProcess(ns, args, child)
}

const parses = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Options of {@link p2pdInfraServer}: the `p2pd infra` flags. */
export interface P2pdInfraOptions {
  /** Primary and alternate (RFC 5780) IPs, added to the lab bridge (default .40 and .41). */
  readonly host?: string
  readonly alternate?: string
  /** Extra `p2pd infra` arguments (ports, TURN user, realm, …). */
  readonly args?: readonly string[]
  /** How long `p2pd infra` may take to print its config (default 30 s). */
  readonly readyTimeoutMs?: number
  /** Called once `p2pd infra` has exited (after the lab stopped it with SIGTERM, say). */
  readonly onExit?: (exit: { code: number | null; signal: string | null; stderr: string }) => void
}

/** The client config `p2pd infra` prints, as the endpoint `config` of {@link p2pdInfraServer}. */
export const INFRA_CONFIG = 'config'

/**
 * `p2pd infra --host H --alternate A …` as a lab server (name `p2pd-infra`): it must print a
 * JSON client config on stdout and `p2pd infra: ready` on stderr. The config text is kept as
 * `servers['p2pd-infra'].config.extra.json` (the endpoint's host/port are the MQTT broker's).
 */
export function p2pdInfraServer(opts: P2pdInfraOptions = {}): LabServer {
  const host = opts.host ?? '198.18.0.40'
  const alternate = opts.alternate ?? '198.18.0.41'
  return {
    name: 'p2pd-infra',
    addresses: [host, alternate],
    async start(ctx) {
      const args = ['infra', '--host', host, '--alternate', alternate, ...(opts.args ?? [])]
      const proc = startCli(ctx.ns, args, { dir: ctx.runDir })
      ctx.track(proc.pid, 'p2pd-infra')
      void proc.closed.then((e) => opts.onExit?.({ ...e, stderr: proc.stderr }))
      try {
        await proc.waitForLine(/p2pd infra: ready/, opts.readyTimeoutMs ?? 30_000)
        // stdout and stderr are separate pipes: the config may land just after "ready".
        const text = await proc.waitForStdout((t) => parses(t), 5000)
        const config = JSON.parse(text) as { brokers?: string[] }
        const broker = new URL(config.brokers?.[0] ?? `mqtt://${host}:1883`)
        return {
          name: 'p2pd-infra',
          pids: [proc.pid],
          endpoints: {
            [INFRA_CONFIG]: {
              host: broker.hostname,
              port: Number(broker.port || 1883),
              transport: 'tcp',
              extra: { json: text },
            },
          },
          stop: () => proc.stop(),
        }
      } catch (err) {
        await proc.stop()
        throw err
      }
    },
  }
}

/** Runs a plain Node script (`node -e SCRIPT`) in `ns`: helpers beside the CLI (HTTP server, client). */
export function nodeScriptIn(ns: string, script: string): ChildProcess {
  return spawnInNamespace(ns, process.execPath, ['-e', script], { cwd: PACKAGE_DIR })
}
