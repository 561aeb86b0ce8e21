// Child processes of the bench: started with tsx (the bench's own TypeScript), they answer with
// one JSON line on stdout; stderr passes through.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'

const tsx = createRequire(import.meta.url).resolve('tsx')

/**
 * Node's arguments for a bench child. `built`: the `@p2pd/*` packages it imports by name load
 * from their build (`dist/`), the code users install, not from source through tsx — whose
 * transform names every function at run time (esbuild's `keepNames`), a property and 256 bytes
 * of heap per closure that a p2pd pipe holds five of. Without it, the workspace's sources.
 */
export function nodeArgs(
  script: string,
  args: readonly string[],
  { built = false }: { built?: boolean } = {},
): string[] {
  const source = built ? [] : ['--conditions=@p2pd/source']
  return ['--import', tsx, ...source, '--expose-gc', script, ...args]
}

export interface Child {
  readonly process: ChildProcess
  /** The next JSON line it prints; rejects when it exits first or after `timeoutMs`. */
  line<T>(timeoutMs: number): Promise<T>
  /** Ends its stdin (its signal to stop), then waits, killing it if it lingers. */
  stop(): Promise<void>
}

export function start(command: string, args: readonly string[]): Child {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
  const queue: string[] = []
  let waiter: (() => void) | undefined
  let exited = false
  lines.on('line', (l) => {
    queue.push(l)
    waiter?.()
  })
  proc.once('exit', () => {
    exited = true
    waiter?.()
  })
  proc.stdin?.on('error', () => {})
  return {
    process: proc,
    async line<T>(timeoutMs: number): Promise<T> {
      let timer: NodeJS.Timeout | undefined
      try {
        while (queue.length === 0) {
          if (exited) throw new Error(`exited (code ${proc.exitCode}) before answering`)
          await new Promise<void>((resolve, reject) => {
            waiter = resolve
            timer = setTimeout(
              () => reject(new Error(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            )
          })
          clearTimeout(timer)
        }
        return JSON.parse(queue.shift() as string) as T
      } finally {
        clearTimeout(timer)
        waiter = undefined
      }
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const gone = once(proc, 'exit')
      proc.stdin?.end()
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000)
      await gone
      clearTimeout(timer)
    },
  }
}
