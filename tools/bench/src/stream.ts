/**
 * The one shape every implementation is measured through: a byte stream with backpressure.
 * Each adapter (raw TCP, p2pd, js-libp2p, hyperdht) maps its own stream onto it, so the
 * measurements in `measure.ts` run the same code for all of them.
 */
export interface ByteStream {
  /** Queues bytes; `false` means wait for {@link ByteStream.drain} before writing more. */
  write(data: Uint8Array): boolean
  drain(): Promise<void>
  /** Every chunk received, in order. One listener. */
  onData(listener: (chunk: Uint8Array) => void): void
  /** Stops reading (backpressure on the receiving side) until `resume`. */
  pause(): void
  resume(): void
  /** Tears the whole connection down (not just this stream). */
  close(): void
}

/** The accepting side of one implementation. */
export interface Listener {
  /** Opaque text the dialling process passes to {@link Implementation.dialer}. */
  readonly address: string
  close(): Promise<void>
}

/** The dialling side: whatever node or socket factory the implementation needs, set up once. */
export interface Dialer {
  /** A new connection, authenticated where the implementation authenticates, ready for bytes. */
  dial(): Promise<ByteStream>
  close(): Promise<void>
}

export interface Implementation {
  listen(onStream: (stream: ByteStream) => void): Promise<Listener>
  dialer(address: string): Promise<Dialer>
}

/** Adapter for Node-style duplex streams (net.Socket, p2pd pipes, streamx streams). */
export interface DuplexLike {
  write(data: Uint8Array): boolean
  once(event: 'drain', listener: () => void): unknown
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  pause(): unknown
  resume(): unknown
  destroy(): unknown
}

export function fromDuplex(duplex: DuplexLike, close?: () => void): ByteStream {
  // A benchmark peer going away mid-run shows up as a short count, not as a crash.
  duplex.on('error', () => {})
  return {
    write: (data) => duplex.write(data),
    drain: () => new Promise((resolve) => duplex.once('drain', resolve)),
    onData: (listener) => {
      duplex.on('data', listener)
    },
    pause: () => {
      duplex.pause()
    },
    resume: () => {
      duplex.resume()
    },
    close: close ?? (() => duplex.destroy()),
  }
}
