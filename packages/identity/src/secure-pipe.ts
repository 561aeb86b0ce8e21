import { Duplex } from 'node:stream'
import type { Pipe, PipePath, StrategyName } from '@p2pd/interface'
import { ChannelError } from './errors.js'
import { FrameOpener } from './frame-opener.js'
import { FrameWriter } from './frame-writer.js'
import type { CipherState, NoiseCipher } from './noise/cipher-state.js'

/** The one Readable internal {@link SecurePipe} reads: `pipe()` destinations awaiting 'drain'. */
interface ReadableInternals {
  readonly _readableState: { readonly awaitDrainWriters: unknown }
}

/** What {@link SecurePipe} needs from a finished handshake. */
export interface SecurePipeInit {
  readonly stream: Duplex
  readonly send: CipherState
  readonly receive: CipherState
  readonly remotePeer: string
  readonly strategy: StrategyName
  readonly path: PipePath
  readonly handshakeHash: Buffer
  readonly rekeyInterval: number
  /** Bytes that arrived after the handshake, in order. */
  readonly leftover: readonly Buffer[]
  readonly allowHalfOpen: boolean
  readonly closeTimeoutMs: number
}

/**
 * Plaintext the pipe buffers for a consumer that is not reading: above it the stream is paused.
 * Four full frames, so a `for await` consumer does not pause and resume the socket (two
 * `epoll_ctl` calls) after every frame.
 */
const READABLE_HIGH_WATER_MARK = 256 * 1024

/**
 * The pipe's own write buffer before `write()` returns `false`: one full frame, so a writer that
 * waits for 'drain' hands over a frame's worth at a time (writes still coalesce below it).
 */
const WRITABLE_HIGH_WATER_MARK = 64 * 1024

/**
 * The authenticated, encrypted {@link Pipe} over a byte stream, after the handshake.
 *
 * Wire format: frames of `uint16be length ‖ AEAD(plaintext) ‖ tag` (AES-256-GCM or
 * ChaCha20-Poly1305, as negotiated), nonce = the frame's index in its direction. Writes are
 * coalesced into frames (see `FrameWriter`). A zero-length plaintext is the authenticated close ("end of
 * stream"); a stream that ends without it is a truncation. Both sides rekey (Noise `Rekey()`)
 * after every `rekeyInterval` frames in each direction, in lockstep by the nonce.
 *
 * Any bad frame destroys the pipe and the stream with a `ChannelError`. Backpressure runs both
 * ways: writes wait for the stream's `drain`, and a full readable pauses the stream.
 */
export class SecurePipe extends Duplex implements Pipe {
  readonly remotePeer: string
  readonly strategy: StrategyName
  readonly path: PipePath
  /** The Noise handshake hash, identical on both ends: a channel binding. */
  readonly handshakeHash: Buffer
  /** The AEAD the two ends negotiated (Noise cipher name). */
  readonly cipher: NoiseCipher

  readonly #stream: Duplex
  readonly #writer: FrameWriter
  readonly #closeTimeoutMs: number
  readonly #opener: FrameOpener
  #closeReceived = false
  #paused = false
  readonly #onData = (chunk: Buffer) => this.#receiveChunk(chunk)
  readonly #onFrame = (plaintext: Buffer) => this.#deliver(plaintext)
  readonly #onEnd = () => this.#streamEnded()
  readonly #onError = (err: Error) =>
    this.destroy(
      new ChannelError('CHANNEL_CLOSED', `stream failed: ${err.message}`, { cause: err }),
    )
  readonly #onClose = () => {
    if (!this.#closeReceived) {
      this.destroy(new ChannelError('CHANNEL_TRUNCATED', 'stream closed without a close frame'))
    } else if (!this.writableFinished) {
      this.destroy()
    }
  }

  /** @internal Pipes come from `secureChannel()`, never from `new`. */
  constructor(init: SecurePipeInit) {
    super({
      allowHalfOpen: init.allowHalfOpen,
      readableHighWaterMark: READABLE_HIGH_WATER_MARK,
      writableHighWaterMark: WRITABLE_HIGH_WATER_MARK,
    })
    this.remotePeer = init.remotePeer
    this.strategy = init.strategy
    this.path = init.path
    this.handshakeHash = init.handshakeHash
    this.cipher = init.send.cipher
    this.#stream = init.stream
    this.#writer = new FrameWriter(init.stream, init.send, init.rekeyInterval)
    this.#opener = new FrameOpener(init.receive, init.rekeyInterval)
    this.#closeTimeoutMs = init.closeTimeoutMs
    // The pipe decides when the stream's write side ends (after the close frame), not a FIN.
    this.#stream.allowHalfOpen = true
    this.#stream.on('error', this.#onError)
    // Start on the next turn of the event loop, after the caller's `await` has resumed and had
    // the chance to attach its 'error' listener: a bad leftover frame must not crash it.
    const leftover = init.leftover
    setImmediate(() => this.#start(leftover))
  }

  #start(leftover: readonly Buffer[]): void {
    if (this.destroyed) return
    this.#stream.on('data', this.#onData)
    this.#stream.on('end', this.#onEnd)
    this.#stream.on('close', this.#onClose)
    for (const chunk of leftover) this.#receiveChunk(chunk)
    if (this.#stream.readableEnded) this.#streamEnded()
    else if (this.#stream.destroyed) this.#onClose()
    else if (!this.#paused) this.#stream.resume()
  }

  #receiveChunk(chunk: Buffer): void {
    if (this.destroyed) return
    try {
      if (this.#closeReceived && chunk.length > 0) {
        throw new ChannelError('CHANNEL_FRAME_MALFORMED', 'bytes after the close frame')
      }
      this.#opener.push(chunk, this.#onFrame)
    } catch (err) {
      this.destroy(err as Error)
    }
  }

  /** One authenticated frame's plaintext (empty: the close frame). */
  #deliver(plaintext: Buffer): void {
    if (this.#closeReceived) {
      throw new ChannelError('CHANNEL_FRAME_MALFORMED', 'frame after the close frame')
    }
    if (plaintext.length === 0) {
      this.#closeReceived = true
      this.push(null)
      return
    }
    if (this.#canEmit()) {
      this.emit('data', plaintext)
      return
    }
    if (!this.push(plaintext) && !this.#paused) {
      this.#paused = true
      this.#stream.pause()
    }
  }

  /**
   * Whether a frame can go straight to the 'data' listeners, as `push()` would hand it on at
   * once: flowing, nothing buffered, bytes (no encoding), and not held back for a `pipe()`
   * destination's 'drain'. This skips `push()`'s bookkeeping and the `read(0)` it schedules on
   * the next tick for every chunk. The first frame always takes `push()` (`readableDidRead`).
   */
  #canEmit(): boolean {
    if (
      this.readableFlowing !== true ||
      this.readableLength !== 0 ||
      !this.readableDidRead ||
      this.readableEncoding !== null ||
      this.destroyed ||
      this.listenerCount('data') === 0
    ) {
      return false
    }
    const waiting = (this as unknown as ReadableInternals)._readableState.awaitDrainWriters
    return waiting === null || (waiting instanceof Set && waiting.size === 0)
  }

  #streamEnded(): void {
    if (this.#closeReceived) {
      if (this.#opener.midFrame) {
        this.destroy(new ChannelError('CHANNEL_FRAME_MALFORMED', 'bytes after the close frame'))
      }
      return
    }
    const midFrame = this.#opener.midFrame
    this.destroy(
      new ChannelError(
        'CHANNEL_TRUNCATED',
        midFrame ? 'stream ended in the middle of a frame' : 'stream ended without a close frame',
      ),
    )
  }

  override _read(): void {
    if (this.#paused) {
      this.#paused = false
      this.#stream.resume()
    }
  }

  /**
   * As `Writable.write`. A lone write on an idle pipe (a `Uint8Array`, no encoding or callback,
   * nothing queued or corked) is sealed and sent within the call, skipping the Writable queue.
   */
  override write(chunk: unknown, callback?: (error: Error | null | undefined) => void): boolean
  override write(
    chunk: unknown,
    encoding: BufferEncoding,
    callback?: (error: Error | null | undefined) => void,
  ): boolean
  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (
      encoding === undefined &&
      callback === undefined &&
      chunk instanceof Uint8Array &&
      this.writableLength === 0 &&
      this.writableCorked === 0 &&
      !this.writableEnded &&
      !this.destroyed
    ) {
      const buffer = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      const done = this.#writer.sealAtOnce(buffer)
      if (done === true) return true
      if (done instanceof Error) {
        this.destroy(done)
        return false
      }
    }
    // biome-ignore lint/suspicious/noExplicitAny: Writable.write's overloads
    return super.write(chunk as any, encoding as any, callback as any)
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#writer.write([chunk], callback)
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.#writer.write(
      chunks.map((c) => c.chunk),
      callback,
    )
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#writer.final(callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stream.off('data', this.#onData)
    this.#stream.off('end', this.#onEnd)
    this.#stream.off('error', this.#onError)
    this.#stream.off('close', this.#onClose)
    this.#stream.on('error', () => {}) // late socket errors after we are gone are not news
    this.#stream.destroy()
    callback(error)
  }

  /**
   * Ends the pipe gracefully (authenticated close frame) and resolves once the underlying
   * stream has closed; after `closeTimeoutMs` (default 2 s) without the peer's close, destroys it.
   */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const stream = this.#stream
      if (stream.destroyed && this.destroyed) {
        resolve()
        return
      }
      const timer = setTimeout(() => this.destroy(), this.#closeTimeoutMs)
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      stream.once('close', done)
      if (stream.destroyed) done()
      // Keep reading so the peer's close frame and FIN are seen even if nobody consumes us.
      this.resume()
      this.end()
    })
  }
}
