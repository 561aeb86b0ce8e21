import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import type { TurnTcpClient } from './client/tcp-client.js'
import { TurnError } from './errors.js'

/**
 * How long an end of the relayed stream waits for news of the allocation (ms): a dying
 * server closes the data and the control connection together, and only the latter says so.
 */
export const RELAY_END_GRACE_MS = 250

/**
 * The relayed TCP byte stream as the pipe sees it: the data connection's bytes unchanged
 * (backpressure both ways), owning the allocation (closing the stream deallocates), and
 * failing with `TURN_RELAY_LOST` when the allocation is lost — also when the server's end of
 * the data connection comes first and the loss of the control connection right after it.
 */
export class RelayedTcpStream extends Duplex {
  readonly #socket: Socket
  readonly #client: TurnTcpClient
  #ending: NodeJS.Timeout | undefined

  constructor(socket: Socket, client: TurnTcpClient) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024 })
    this.#socket = socket
    this.#client = client
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause()
    })
    socket.on('end', () => this.#onEnd())
    socket.on('error', (err) => this.destroy(err))
    socket.on('close', () => {
      if (!this.#ending && !this.readableEnded) this.#onEnd()
    })
    client.once('lost', (err) => this.destroy(this.#lost(err)))
  }

  #lost(cause: Error): TurnError {
    return new TurnError(
      'TURN_RELAY_LOST',
      `relay allocation on ${this.#client.server.host}:${this.#client.server.port} lost: ` +
        cause.message,
      { cause },
    )
  }

  #onEnd(): void {
    if (this.#ending || this.destroyed) return
    if (this.#client.closed) return void this.destroy(this.#lost(new Error('allocation closed')))
    this.#ending = setTimeout(() => {
      if (this.#client.closed) this.destroy(this.#lost(new Error('allocation closed')))
      else this.push(null)
    }, RELAY_END_GRACE_MS)
  }

  override _read(): void {
    this.#socket.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#socket.write(chunk, cb)
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.#socket.cork()
    for (let i = 0; i < chunks.length - 1; i++)
      this.#socket.write((chunks[i] as { chunk: Buffer }).chunk)
    this.#socket.write((chunks[chunks.length - 1] as { chunk: Buffer }).chunk, cb)
    this.#socket.uncork()
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#socket.end(cb)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#ending)
    this.#socket.destroy()
    void this.#client.close()
    cb(err)
  }
}
