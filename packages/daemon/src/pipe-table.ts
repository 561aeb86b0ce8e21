import { randomBytes } from 'node:crypto'
import type { Pipe } from '@p2pd/interface'
import { DaemonPipe } from './daemon-pipe.js'
import { HttpError } from './errors.js'

// Every pipe the daemon holds, by ID, and the queue of inbound ones no client has seen yet.
// Both are bounded: a full table first forgets pipes that are closed and read to the end.

export class PipeTable {
  readonly #pipes = new Map<string, DaemonPipe>()
  readonly #incoming: DaemonPipe[] = []
  readonly #waiters = new Set<() => void>()

  constructor(
    readonly maxPipes: number,
    readonly maxIncoming: number,
    readonly bufferLimit: number,
  ) {}

  get size(): number {
    return this.#pipes.size
  }

  list(): DaemonPipe[] {
    return [...this.#pipes.values()]
  }

  /** The pipe with this ID; 404 `PIPE_NOT_FOUND` otherwise. */
  get(id: string): DaemonPipe {
    const entry = this.#pipes.get(id)
    if (!entry) throw new HttpError(404, 'PIPE_NOT_FOUND', `no pipe '${id.slice(0, 40)}'`)
    return entry
  }

  /** True when there is room for one more pipe (making room by forgetting spent ones). */
  hasRoom(): boolean {
    if (this.#pipes.size < this.maxPipes) return true
    for (const [id, entry] of this.#pipes) {
      if (entry.spent) {
        this.#pipes.delete(id)
        return true
      }
    }
    return false
  }

  /** Registers a pipe; throws 503 `TOO_MANY_PIPES` when full (the caller closes the pipe). */
  add(pipe: Pipe, direction: 'outbound' | 'inbound'): DaemonPipe {
    if (!this.hasRoom()) {
      throw new HttpError(503, 'TOO_MANY_PIPES', `the daemon holds ${this.maxPipes} pipes`)
    }
    const entry = new DaemonPipe(randomBytes(8).toString('hex'), pipe, direction, this.bufferLimit)
    this.#pipes.set(entry.id, entry)
    if (direction === 'inbound') {
      // Nobody asked yet: the oldest unseen one stays listed in GET /pipes, just not announced.
      if (this.#incoming.length >= this.maxIncoming) this.#incoming.shift()
      this.#incoming.push(entry)
      for (const wake of [...this.#waiters]) wake()
    }
    return entry
  }

  /** Forgets a pipe and closes it. */
  async remove(id: string): Promise<void> {
    const entry = this.get(id)
    this.#pipes.delete(id)
    const i = this.#incoming.indexOf(entry)
    if (i >= 0) this.#incoming.splice(i, 1)
    await entry.close()
  }

  /** The next inbound pipe no client was told about; `undefined` when `signal` aborts first. */
  async nextIncoming(signal: AbortSignal): Promise<DaemonPipe | undefined> {
    for (;;) {
      const entry = this.#incoming.shift()
      if (entry) return entry
      if (signal.aborted) return undefined
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake)
          signal.removeEventListener('abort', wake)
          resolve()
        }
        this.#waiters.add(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
    }
  }

  /** Closes every pipe (daemon shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.#pipes.values()]
    this.#pipes.clear()
    this.#incoming.length = 0
    for (const wake of [...this.#waiters]) wake()
    await Promise.allSettled(all.map((p) => p.close()))
  }
}
