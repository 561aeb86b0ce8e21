import type { ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { NatlabError } from './errors.js'
import { spawnInNamespace } from './exec.js'

/** The natlab package directory: Node runs from here so `--import tsx` resolves. */
export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Absolute path of a file in `src/` (programs the lab runs inside namespaces). */
export const srcFile = (name: string) => join(PACKAGE_DIR, 'src', name)

/**
 * The argv that runs a TypeScript file with this Node (through tsx, sibling packages from
 * source). Prefix it with `ip netns exec NS` to run it in a namespace.
 */
export function nodeTsArgv(file: string, args: readonly string[] = []): string[] {
  return [process.execPath, '--conditions=@p2pd/source', '--import', 'tsx', file, ...args]
}

/**
 * Spawns a Node program (TypeScript, run through tsx) inside namespace `ns`. `ip netns exec`
 * execs Node in place, so the returned child's PID is Node's own PID: stop it by that PID.
 */
export function runInNamespace(
  ns: string,
  file: string,
  args: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
): ChildProcess {
  const [node, ...rest] = nodeTsArgv(file, args)
  return spawnInNamespace(ns, node as string, rest, {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...env },
  })
}

/** Reads JSON lines from a child's stdout; non-JSON lines are ignored (kept in `log`). */
export function jsonLines(child: ChildProcess, onLine: (msg: Record<string, unknown>) => void) {
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  rl.on('line', (text) => {
    if (!text.startsWith('{')) return
    try {
      onLine(JSON.parse(text) as Record<string, unknown>)
    } catch {}
  })
}

/** Stops a child by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** A lab agent (`agent.ts`) running in one namespace, driven over stdio. */
export class Agent {
  private seq = 0
  private readonly pending = new Map<number, (msg: Record<string, unknown>) => void>()
  private stderr = ''

  private constructor(
    readonly ns: string,
    readonly child: ChildProcess,
  ) {}

  /** Starts an agent in `ns` and waits until it answers (default 15 s). */
  static async start(ns: string, timeoutMs = 15_000): Promise<Agent> {
    const child = runInNamespace(ns, srcFile('agent.ts'))
    const agent = new Agent(ns, child)
    child.stderr?.on('data', (b: Buffer) => {
      agent.stderr = (agent.stderr + b.toString()).slice(-4000)
    })
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new NatlabError('NATLAB_COMMAND', `agent in ${ns} not ready: ${agent.stderr}`)),
        timeoutMs,
      )
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new NatlabError('NATLAB_COMMAND', `agent in ${ns} exited ${code}: ${agent.stderr}`))
      })
      jsonLines(child, (msg) => {
        if (msg.ready) {
          clearTimeout(timer)
          resolve()
          return
        }
        const cb = agent.pending.get(msg.id as number)
        if (cb) {
          agent.pending.delete(msg.id as number)
          cb(msg)
        }
      })
    })
    try {
      await ready
    } catch (err) {
      await stopChild(child)
      throw err
    }
    return agent
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Runs one operation (see `agent.ts`); rejects on the agent's error or after `timeoutMs`. */
  // biome-ignore lint/suspicious/noExplicitAny: results are loosely typed JSON by design
  call(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<any> {
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new NatlabError('NATLAB_COMMAND', `agent ${this.ns}: ${op} timed out`))
      }, timeoutMs)
      this.pending.set(id, (msg) => {
        clearTimeout(timer)
        if (msg.ok) resolve(msg.result)
        else
          reject(new NatlabError('NATLAB_COMMAND', `agent ${this.ns}: ${op}: ${String(msg.error)}`))
      })
      this.child.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`)
    })
  }

  async stop(): Promise<void> {
    this.child.stdin?.end()
    await stopChild(this.child, 1000)
  }
}
