import { Transform, type TransformCallback } from 'node:stream'
import { HEADER_LENGTH } from './constants.js'
import { StunError } from './errors.js'

/** One frame cut from a stream: a whole STUN message, or a TURN ChannelData message. */
export interface StunFrame {
  readonly kind: 'stun' | 'channel-data'
  /** The frame's bytes (for ChannelData: header + data, without the TCP padding). */
  readonly data: Buffer
}

export interface StunFramerOptions {
  /**
   * Also cut TURN ChannelData messages (first two bits 01; RFC 8656 §12.5), padded to 4 bytes
   * on stream transports. Off by default: a STUN-only stream then rejects them.
   */
  readonly channelData?: boolean
  /** Largest frame accepted (default 65,555: the largest STUN message); more: `STUN_TOO_LARGE`. */
  readonly maxFrameBytes?: number
}

/**
 * Cuts a byte stream (STUN over TCP/TLS, RFC 8489 §6.2.2) into messages using the length in
 * each header: any number of messages per chunk, and messages split over any number of chunks.
 * Memory stays bounded by one frame plus one chunk. After an error the framer is unusable.
 */
export class StunFramer {
  readonly #channelData: boolean
  readonly #maxFrameBytes: number
  #chunks: Buffer[] = []
  #buffered = 0
  #failed: StunError | undefined

  constructor(opts: StunFramerOptions = {}) {
    this.#channelData = opts.channelData ?? false
    this.#maxFrameBytes = opts.maxFrameBytes ?? HEADER_LENGTH + 0xffff
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffered
  }

  /** Adds a chunk and returns the frames it completed (maybe none). Throws `StunError`. */
  push(chunk: Uint8Array): StunFrame[] {
    if (this.#failed) throw this.#failed
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      this.#buffered += chunk.length
    }
    const frames: StunFrame[] = []
    for (;;) {
      if (this.#buffered < 4) break
      const head = this.#peek(4)
      const first = head[0] as number
      const length = head.readUInt16BE(2)
      let kind: StunFrame['kind']
      let size: number
      let wire: number
      if ((first & 0xc0) === 0) {
        kind = 'stun'
        size = HEADER_LENGTH + length
        wire = size
      } else if ((first & 0xc0) === 0x40 && this.#channelData) {
        kind = 'channel-data'
        size = 4 + length
        wire = (size + 3) & ~3
      } else {
        throw this.#fail(
          new StunError('STUN_BAD_FRAME', 'stream carries neither STUN nor ChannelData'),
        )
      }
      if (size > this.#maxFrameBytes) {
        throw this.#fail(
          new StunError('STUN_TOO_LARGE', `frame of ${size} bytes (max ${this.#maxFrameBytes})`),
        )
      }
      if (this.#buffered < wire) break
      const bytes = this.#take(wire)
      frames.push({ kind, data: wire === size ? bytes : bytes.subarray(0, size) })
    }
    return frames
  }

  /** Drops buffered bytes (on connection close). */
  reset(): void {
    this.#chunks = []
    this.#buffered = 0
  }

  #fail(err: StunError): StunError {
    this.#failed = err
    this.reset()
    return err
  }

  /** The first `n` buffered bytes, merging chunks only as far as needed. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer
    if (first.length >= n) return first
    const merged = Buffer.concat(this.#chunks)
    this.#chunks = [merged]
    return merged
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let filled = 0
      while (filled < n) {
        const c = this.#chunks[0] as Buffer
        const part = Math.min(c.length, n - filled)
        c.copy(out, filled, 0, part)
        filled += part
        if (part === c.length) this.#chunks.shift()
        else this.#chunks[0] = c.subarray(part)
      }
    }
    this.#buffered -= n
    return out
  }
}

/**
 * A `Transform` stream over {@link StunFramer}: bytes in, {@link StunFrame} objects out. A bad
 * stream ends it with the framer's `StunError`.
 */
export function createStunFrameStream(opts: StunFramerOptions = {}): Transform {
  const framer = new StunFramer(opts)
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      try {
        for (const frame of framer.push(chunk)) this.push(frame)
        done()
      } catch (err) {
        done(err as Error)
      }
    },
  })
}
