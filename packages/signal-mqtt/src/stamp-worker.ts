import { Worker } from 'node:worker_threads'

// The minting loop of ./stamp.ts, in a worker thread: jobs one at a time, each abandoned as
// soon as its cancel flag is set (checked every few thousand hashes).
const SOURCE = `
const { parentPort } = require('node:worker_threads')
const { hash } = require('node:crypto')
const zeros = (h) => {
  let n = 0
  for (const b of h) {
    if (b === 0) { n += 8; continue }
    return n + Math.clz32(b) - 24
  }
  return n
}
parentPort.on('message', ({ id, input, bits, cancel }) => {
  const flag = new Int32Array(cancel)
  const buf = Buffer.from(input)
  const at = buf.length - 8
  for (let n = 0; ; n++) {
    if ((n & 4095) === 0 && Atomics.load(flag, 0) !== 0) return parentPort.postMessage({ id })
    buf.writeUInt32BE(Math.floor(n / 2 ** 32), at)
    buf.writeUInt32BE(n >>> 0, at + 4)
    if (zeros(hash('sha256', buf, 'buffer')) >= bits) {
      return parentPort.postMessage({ id, stamp: buf.subarray(at).toString('hex') })
    }
  }
})
`

/** A worker is let go after this long without jobs. */
const IDLE_MS = 10_000

interface Pending {
  readonly resolve: (stamp: string | undefined) => void
  readonly reject: (err: Error) => void
}

/**
 * One worker thread for the whole process that mints stamps, so that the ≈ 2^bits hashes of
 * a first contact use another core instead of this event loop. Started on first use; it keeps
 * the process alive only while a mint is pending (someone awaits it), never when idle, and is
 * stopped again after a while without jobs.
 */
class StampWorker {
  #worker: Worker | undefined
  readonly #pending = new Map<number, Pending>()
  #nextId = 0
  #idle: NodeJS.Timeout | undefined

  /** The stamp, or undefined when cancelled. Rejects when the worker fails. */
  mint(input: Buffer, bits: number, cancel: SharedArrayBuffer): Promise<string | undefined> {
    const worker = this.#start()
    clearTimeout(this.#idle)
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      worker.ref() // a caller awaits this mint: the process must not exit under it
      worker.postMessage({ id, input, bits, cancel })
    })
  }

  #start(): Worker {
    if (this.#worker) return this.#worker
    const worker = new Worker(SOURCE, { eval: true })
    worker.on('message', ({ id, stamp }: { id: number; stamp?: string }) => {
      const job = this.#pending.get(id)
      this.#pending.delete(id)
      job?.resolve(stamp)
      if (this.#pending.size === 0) {
        worker.unref()
        this.#stopWhenIdle()
      }
    })
    const fail = (err: Error) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      for (const job of this.#pending.values()) job.reject(err)
      this.#pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`stamp worker exited (${code})`)))
    // After the listeners: adding a 'message' listener refs the worker's port again, which
    // kept a stopping process alive until the idle timer ended the worker (≈ 10 s).
    worker.unref()
    this.#worker = worker
    return worker
  }

  #stopWhenIdle(): void {
    clearTimeout(this.#idle)
    this.#idle = setTimeout(() => {
      const worker = this.#worker
      if (!worker || this.#pending.size > 0) return
      this.#worker = undefined
      void worker.terminate()
    }, IDLE_MS)
    this.#idle.unref()
  }
}

/** The process's stamp worker. */
export const stampWorker = new StampWorker()
