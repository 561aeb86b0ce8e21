import { Socket } from 'node:net'

/** Bytes per read of a pumped connection (Node's own read size). */
const READ_BYTES = 64 * 1024

/**
 * A bound data connection that copies what it reads to a sink with one buffer of its own.
 *
 * A plain socket reads into a fresh allocation every time; relaying at full speed, those
 * allocations and the memory the allocator hands back and faults in again cost about half
 * of the server's CPU per byte. Here the kernel socket is taken over by a socket that reads
 * into a fixed buffer; each read is written to the sink, and reading stops until that write
 * has left the buffer (the sink's backpressure, with no copy).
 */
export class Pump {
  readonly socket: Socket
  #sink: Socket | undefined
  /** Numbers the writes: only the callback of the last one may resume reading. */
  #writes = 0
  /** A write from our buffer is not flushed yet: reading stays stopped. */
  #waiting = false

  private constructor(handle: unknown) {
    this.socket = new Socket({
      handle,
      allowHalfOpen: true,
      onread: {
        buffer: Buffer.allocUnsafeSlow(READ_BYTES),
        callback: (n: number, buf: Buffer) => this.#onRead(n, buf),
      },
    } as ConstructorParameters<typeof Socket>[0])
    this.socket.pause()
  }

  /**
   * Takes over the kernel socket of a connected TCP socket (the old object is let go without
   * closing it), or undefined when it cannot: not a plain TCP socket, bytes still buffered in
   * it either way, or a runtime whose socket does not keep its handle where Node does (the
   * connection then stays as it is). Whoever held `old` moves its listeners to {@link socket}.
   */
  static adopt(old: Socket): Pump | undefined {
    const holder = old as unknown as { _handle?: { useUserBuffer?: unknown } | null }
    const handle = holder._handle
    if (
      old.constructor !== Socket ||
      old.destroyed ||
      old.readableLength > 0 ||
      old.writableLength > 0 ||
      typeof handle?.useUserBuffer !== 'function'
    ) {
      return undefined
    }
    old.removeAllListeners()
    holder._handle = null
    old.on('error', () => {})
    old.destroy()
    return new Pump(handle)
  }

  /** From now on bytes go to `sink`; `undefined` holds them (reading stops). */
  to(sink: Socket | undefined): void {
    this.#sink = sink
    if (!sink) this.socket.pause()
    else this.#resume()
  }

  #onRead(n: number, buf: Buffer): boolean {
    const sink = this.#sink
    if (!sink || sink.destroyed) return false
    const id = ++this.#writes
    sink.write(buf.subarray(0, n), (err) => {
      if (id !== this.#writes || err) return
      this.#waiting = false
      this.#resume()
    })
    // Flushed at once (the usual case): the buffer is free for the next read.
    if (sink.writableLength === 0) return true
    this.#waiting = true
    return false
  }

  #resume(): void {
    if (!this.#waiting && this.#sink && !this.socket.destroyed) this.socket.resume()
  }
}
