import { ChannelError } from './errors.js'
import { TAG_LENGTH } from './noise/cipher-state.js'

/** Bytes of the big-endian length prefix before every frame. */
export const LENGTH_PREFIX = 2

/** Largest frame body (the Noise message limit). */
export const MAX_FRAME_LENGTH = 65535

/** Largest plaintext in one transport frame: 65535 − 16 = 65519 bytes. */
export const MAX_FRAME_PLAINTEXT = MAX_FRAME_LENGTH - TAG_LENGTH

/**
 * A FIFO of received chunks that hands out exact byte counts, copying only when a read spans
 * chunks. It holds only what was pushed; the caller bounds that by pausing its source.
 */
export class ByteQueue {
  readonly #chunks: Buffer[] = []
  #head = 0 // read offset into #chunks[0]
  #length = 0

  get length(): number {
    return this.#length
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#length += chunk.length
  }

  /** The byte at `index` from the read position (which must be < length). */
  peekByte(index: number): number {
    let i = index + this.#head
    for (const c of this.#chunks) {
      if (i < c.length) return c[i] as number
      i -= c.length
    }
    throw new RangeError('peek past the end')
  }

  /** Removes and returns exactly `n` bytes (n ≤ length): a view when possible, else a copy. */
  take(n: number): Buffer {
    if (n > this.#length) throw new RangeError('take past the end')
    this.#length -= n
    const first = this.#chunks[0]
    if (n === 0 || first === undefined) return Buffer.alloc(0)
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n)
      this.#head += n
      if (this.#head === first.length) {
        this.#chunks.shift()
        this.#head = 0
      }
      return out
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = this.#chunks[0] as Buffer
      const k = Math.min(c.length - this.#head, n - filled)
      c.copy(out, filled, this.#head, this.#head + k)
      filled += k
      this.#head += k
      if (this.#head === c.length) {
        this.#chunks.shift()
        this.#head = 0
      }
    }
    return out
  }

  /** Removes and returns everything buffered. */
  drain(): Buffer[] {
    const out = this.#chunks.splice(0)
    if (out[0]) out[0] = out[0].subarray(this.#head)
    this.#head = 0
    this.#length = 0
    return out
  }
}

/**
 * Splits a byte stream into frames: 2-byte big-endian length, then that many bytes. Lengths
 * outside [`minLength`, `maxLength`] are rejected as soon as the prefix is seen, before any of
 * the body is buffered. Errors are `ChannelError`s; the decoder is unusable after one.
 */
export class FrameDecoder {
  readonly #queue = new ByteQueue()
  maxLength: number
  minLength: number

  constructor(options?: { maxLength?: number; minLength?: number }) {
    this.maxLength = options?.maxLength ?? MAX_FRAME_LENGTH
    this.minLength = options?.minLength ?? 0
  }

  /** Bytes received but not yet returned as frames (at most one frame plus one chunk). */
  get buffered(): number {
    return this.#queue.length
  }

  push(chunk: Buffer): void {
    this.#queue.push(chunk)
  }

  /** The next complete frame body, or `undefined` until more bytes arrive. */
  next(): Buffer | undefined {
    const q = this.#queue
    if (q.length < LENGTH_PREFIX) return undefined
    const length = (q.peekByte(0) << 8) | q.peekByte(1)
    if (length > this.maxLength) {
      throw new ChannelError(
        'CHANNEL_FRAME_TOO_LARGE',
        `frame of ${length} bytes > ${this.maxLength}`,
      )
    }
    if (length < this.minLength) {
      throw new ChannelError(
        'CHANNEL_FRAME_MALFORMED',
        `frame of ${length} bytes < ${this.minLength}`,
      )
    }
    if (q.length < LENGTH_PREFIX + length) return undefined
    q.take(LENGTH_PREFIX)
    return q.take(length)
  }

  /** Exactly `n` raw (unframed) bytes, or `undefined` until they arrive. */
  nextRaw(n: number): Buffer | undefined {
    return this.#queue.length >= n ? this.#queue.take(n) : undefined
  }

  /** Hands over everything still buffered (the transport takes over from the handshake). */
  drain(): Buffer[] {
    return this.#queue.drain()
  }
}

/** A frame: the 2-byte big-endian length, then `body`. */
export function encodeFrame(body: Uint8Array): Buffer {
  if (body.length > MAX_FRAME_LENGTH) throw new RangeError('frame body over 65535 bytes')
  const out = Buffer.allocUnsafe(LENGTH_PREFIX + body.length)
  out.writeUInt16BE(body.length, 0)
  out.set(body, LENGTH_PREFIX)
  return out
}
