import { abortReason, type Pipe, withDeadline } from '@p2pd/interface'
import { HttpError } from './errors.js'
import type { WebSocketConnection } from './websocket.js'
import { CloseCode } from './ws-frame.js'

// One pipe the daemon holds for a client: what arrived is buffered (bounded: the pipe is
// paused when the buffer is full, so the peer feels backpressure) until `recv` takes it, or
// streamed to the one WebSocket that took the pipe over.

/** What `GET /pipes` and `GET /pipes/{id}` say about a pipe. */
export interface PipeInfo {
  readonly id: string
  /** The peer's node ID, proven by the handshake. */
  readonly peer: string
  readonly strategy: string
  /** `outbound`: made by `POST /connect`; `inbound`: a peer connected to this daemon. */
  readonly direction: 'outbound' | 'inbound'
  /** Received bytes waiting for `recv`. */
  readonly buffered: number
  /** The peer finished sending (nothing more will arrive after the buffer). */
  readonly ended: boolean
  /** The pipe is closed (by either side, or an error). */
  readonly closed: boolean
  /** A WebSocket holds the pipe (then `recv` is refused). */
  readonly websocket: boolean
  /** When the daemon got the pipe (ISO 8601). */
  readonly created: string
}

/** How long closing a pipe may take before its socket is destroyed. */
const CLOSE_MS = 5_000

export class DaemonPipe {
  readonly created = new Date()
  #chunks: Buffer[] = []
  #buffered = 0
  #ended = false
  #closed = false
  #ws?: WebSocketConnection
  readonly #wake = new Set<() => void>()

  constructor(
    readonly id: string,
    readonly pipe: Pipe,
    readonly direction: 'outbound' | 'inbound',
    readonly bufferLimit: number,
  ) {
    pipe.on('data', (d: Buffer) => this.#onData(d))
    pipe.on('end', () => {
      this.#ended = true
      this.#notify()
      if (this.#ws && this.#buffered === 0) this.#ws.close(CloseCode.Normal, 'peer finished')
    })
    pipe.on('error', () => {}) // surfaces as 'close'; the client sees `closed`
    pipe.on('close', () => {
      this.#closed = true
      this.#notify()
      this.#ws?.close(this.#ended ? CloseCode.Normal : CloseCode.GoingAway, 'pipe closed')
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Finished for good: closed and nothing left to read. */
  get spent(): boolean {
    return this.#closed && this.#buffered === 0
  }

  info(): PipeInfo {
    return {
      id: this.id,
      peer: this.pipe.remotePeer,
      strategy: this.pipe.strategy,
      direction: this.direction,
      buffered: this.#buffered,
      ended: this.#ended,
      closed: this.#closed,
      websocket: this.#ws !== undefined,
      created: this.created.toISOString(),
    }
  }

  #onData(d: Buffer): void {
    if (this.#ws) {
      if (!this.#ws.send(d)) {
        this.pipe.pause()
        this.#ws.onDrain(() => this.pipe.resume())
      }
      return
    }
    this.#chunks.push(d)
    this.#buffered += d.length
    if (this.#buffered >= this.bufferLimit) this.pipe.pause()
    this.#notify()
  }

  #notify(): void {
    for (const wake of [...this.#wake]) wake()
  }

  /**
   * Up to `max` received bytes: at once when some wait, else as soon as some arrive.
   * `undefined` when `signal` aborts first (the long-poll timed out); `'eof'` when the peer
   * finished and everything was read.
   */
  async recv(max: number, signal: AbortSignal): Promise<Buffer | 'eof' | undefined> {
    if (this.#ws) throw new HttpError(409, 'PIPE_IN_USE', 'a WebSocket holds this pipe')
    for (;;) {
      if (this.#buffered > 0) return this.#take(max)
      if (this.#ended || this.#closed) return 'eof'
      if (signal.aborted) return undefined
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#wake.delete(wake)
          signal.removeEventListener('abort', wake)
          resolve()
        }
        this.#wake.add(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
      if (this.#ws) throw new HttpError(409, 'PIPE_IN_USE', 'a WebSocket holds this pipe')
    }
  }

  #take(max: number): Buffer {
    const out: Buffer[] = []
    let size = 0
    while (size < max && this.#chunks.length > 0) {
      const head = this.#chunks[0] as Buffer
      const room = max - size
      if (head.length <= room) {
        out.push(head)
        size += head.length
        this.#chunks.shift()
      } else {
        out.push(head.subarray(0, room))
        this.#chunks[0] = head.subarray(room)
        size += room
      }
    }
    this.#buffered -= size
    if (this.#buffered < this.bufferLimit && !this.#ws) this.pipe.resume()
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, size)
  }

  /** Writes `data` to the peer; waits (until `signal`) while the pipe's buffer is full. */
  async send(data: Buffer, signal: AbortSignal): Promise<void> {
    if (this.#closed || this.pipe.writableEnded || !this.pipe.writable) {
      throw new HttpError(410, 'PIPE_CLOSED', 'the pipe is closed for sending')
    }
    if (this.pipe.write(data)) return
    await new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        this.pipe.off('drain', onDrain)
        this.pipe.off('close', onClose)
        signal.removeEventListener('abort', onAbort)
        if (err) reject(err)
        else resolve()
      }
      const onDrain = () => done()
      const onClose = () => done(new HttpError(410, 'PIPE_CLOSED', 'the pipe closed while sending'))
      const onAbort = () => done(abortReason(signal))
      this.pipe.on('drain', onDrain)
      this.pipe.on('close', onClose)
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Hands the pipe to a WebSocket: buffered bytes first, then everything as it arrives; each
   * binary message the client sends is written to the peer. When either side closes, both do.
   * `onGone` runs once the WebSocket has closed.
   */
  attach(ws: WebSocketConnection, onGone: () => void): void {
    if (this.#ws) throw new HttpError(409, 'PIPE_IN_USE', 'a WebSocket already holds this pipe')
    this.#ws = ws
    this.#notify() // pending long-polls answer 409
    for (const chunk of this.#chunks.splice(0)) ws.send(chunk)
    this.#buffered = 0
    if (this.#ended || this.#closed) ws.close(CloseCode.Normal, 'peer finished')
    else this.pipe.resume()
    ws.on('message', (m) => {
      if (this.#closed) return
      if (!this.pipe.write(m)) {
        ws.pause()
        this.pipe.once('drain', () => ws.resume())
      }
    })
    ws.on('close', () => {
      void this.close()
      onGone()
    })
  }

  /** Ends the pipe gracefully; destroys it if that takes longer than a few seconds. */
  async close(): Promise<void> {
    this.#notify()
    if (this.pipe.destroyed) return
    await withDeadline(CLOSE_MS, undefined, () => this.pipe.close(), 'pipe close').catch(() =>
      this.pipe.destroy(),
    )
  }
}
