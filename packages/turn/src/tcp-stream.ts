import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import type { TurnTcpClient } from './client/tcp-client.js'
import { TurnError } from './errors.js'

/**
 * How long the end of a relayed connection waits for news of the allocation (ms): a dying
 * server closes the data and the control connection together, and only the latter says so.
 */
export const RELAY_END_GRACE_MS = 250

/**
 * The relayed TCP byte stream as the pipe sees it: the data connection's bytes unchanged
 * (backpressure both ways), owning the allocation (closing the stream deallocates).
 *
 * - It never half-closes: coturn answers a FIN on a relayed connection by resetting both
 *   sides, which would lose the far pipe's close frame. Ending our side only marks it done;
 *   the connection goes when the stream is destroyed (the pipe does that after its close
 *   handshake, or after its close timeout).
 * - When the connection ends (FIN, reset, close) after this side ended its writing (the
 *   pipe's close frame is out), that is the end of the stream: the pipe above knows from its
 *   close frames whether it was clean. When it ends before — the far relay, its server or the
 *   far peer went away (with UDP relays the idle timeout says the same) — or the allocation is
 *   lost (now, or within {@link RELAY_END_GRACE_MS}), it fails with `TURN_RELAY_LOST`.
 */
export class RelayedTcpStream extends Duplex {
  readonly #socket: Socket
  readonly #client: TurnTcpClient
  #ending: NodeJS.Timeout | undefined
  /** Our writing is done (`end()`): a connection ending now is the normal close. */
  #finished = false

  constructor(socket: Socket, client: TurnTcpClient) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024 })
    this.#socket = socket
    this.#client = client
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause()
    })
    socket.on('end', () => this.#onEnd())
    socket.on('error', () => this.#onEnd())
    socket.on('close', () => this.#onEnd())
    client.once('lost', (err) => this.destroy(this.#lost(err)))
  }

  #lost(cause: Error): TurnError {
    const at = `${this.#client.server.host}:${this.#client.server.port}`
    return new TurnError('TURN_RELAY_LOST', `relay allocation on ${at} lost: ${cause.message}`, {
      cause,
    })
  }

  #endedEarly(): TurnError {
    const at = `${this.#client.server.host}:${this.#client.server.port}`
    return new TurnError(
      'TURN_RELAY_LOST',
      `the relayed connection via ${at} ended before this side closed (far relay, server or peer gone)`,
    )
  }

  #onEnd(): void {
    if (this.#ending || this.destroyed) return
    const settle = () => {
      if (this.destroyed) return
      if (this.#client.closed) return void this.destroy(this.#lost(new Error('allocation closed')))
      if (!this.#finished) return void this.destroy(this.#endedEarly())
      this.push(null)
      this.destroy()
    }
    if (this.#client.closed) return void settle()
    this.#ending = setTimeout(settle, RELAY_END_GRACE_MS)
  }

  override _read(): void {
    this.#socket.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // A failed write ends the connection: reported as its end (above), not as this write's error.
    this.#socket.write(chunk, () => cb())
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.#socket.cork()
    const last = chunks.length - 1
    chunks.forEach(({ chunk }, i) => {
      if (i < last) this.#socket.write(chunk)
      else this.#socket.write(chunk, () => cb())
    })
    this.#socket.uncork()
  }

  override _final(cb: (err?: Error | null) => void): void {
    // No FIN (see above): the bytes are written; the connection closes with the stream.
    this.#finished = true
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#ending)
    this.#socket.destroy()
    void this.#client.close()
    cb(err)
  }
}
