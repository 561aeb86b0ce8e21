import { abortReason, type Pipe } from '@p2pd/interface'
import { NodeError } from './errors.js'

const ignore = () => {}

/**
 * Authenticated inbound pipes, as an async iterator. Bounded: when nobody consumes and
 * `limit` pipes wait, new ones are closed rather than queued without end.
 */
export class IncomingPipes implements AsyncIterable<Pipe> {
  readonly #queue: Pipe[] = []
  readonly #readers: Array<(r: IteratorResult<Pipe>) => void> = []
  #closed = false

  constructor(readonly limit = 64) {}

  push(pipe: Pipe): void {
    const reader = this.#readers.shift()
    if (reader) {
      reader({ value: pipe, done: false })
      return
    }
    if (this.#closed || this.#queue.length >= this.limit) {
      pipe.on('error', ignore)
      void pipe.close()
      return
    }
    // Nobody holds a queued pipe yet: its errors (the peer reset it) must not crash the process.
    pipe.on('error', ignore)
    this.#queue.push(pipe)
  }

  #take(): Pipe | undefined {
    const pipe = this.#queue.shift()
    pipe?.off('error', ignore)
    return pipe
  }

  close(): void {
    this.#closed = true
    for (const r of this.#readers.splice(0)) r({ value: undefined, done: true })
    for (const p of this.#queue.splice(0)) void p.close() // still ignoring errors
  }

  /**
   * The next inbound pipe; rejects with the typed reason when `signal` aborts (and then takes
   * nothing from the queue, so no pipe is lost to an abandoned wait).
   */
  next(signal?: AbortSignal): Promise<Pipe> {
    const pipe = this.#take()
    if (pipe) return Promise.resolve(pipe)
    if (this.#closed) return Promise.reject(new NodeError('NODE_STOPPED', 'node stopped'))
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal))
      const reader = (r: IteratorResult<Pipe>) => {
        signal?.removeEventListener('abort', onAbort)
        if (r.done) reject(new NodeError('NODE_STOPPED', 'node stopped'))
        else resolve(r.value)
      }
      const onAbort = () => {
        const i = this.#readers.indexOf(reader)
        if (i >= 0) this.#readers.splice(i, 1)
        reject(abortReason(signal as AbortSignal))
      }
      this.#readers.push(reader)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<Pipe> {
    return {
      next: () => {
        const pipe = this.#take()
        if (pipe) return Promise.resolve({ value: pipe, done: false })
        if (this.#closed) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => this.#readers.push(resolve))
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    }
  }
}
