import { ChannelError } from './errors.js'
import { LENGTH_PREFIX, MAX_FRAME_LENGTH } from './framing.js'
import { type CipherState, TAG_LENGTH } from './noise/cipher-state.js'
import { openFrame } from './transport-frame.js'

/** One authenticated frame's plaintext, in order; empty for the close frame. */
export type FrameSink = (plaintext: Buffer) => void

/**
 * Where a frame that straddled socket chunks is put back together for its one decrypt. Shared:
 * opening is synchronous, and an idle pipe should not hold 64 KiB.
 */
let scratch: Buffer | undefined

/**
 * Decrypts transport frames (`uint16be length ‖ ciphertext ‖ tag`) out of the socket's chunks.
 *
 * A frame that lies inside one chunk is opened in one call on a view of it. A socket hands out
 * reads of at most 64 KiB, so a full 65,537-byte frame always straddles two chunks: its pieces
 * are kept (views, no copy) until the last one arrives, then copied into one shared scratch
 * buffer and opened in one call — one `createDecipheriv`, one `update()` and one output buffer
 * per frame, where decrypting piecewise cost an `update()` and an allocation per piece.
 * Plaintext reaches the sink only after the frame's tag has verified — never a byte of a forged
 * frame. It holds at most one frame's ciphertext and one byte of a split prefix.
 */
export class FrameOpener {
  readonly #receive: CipherState
  readonly #rekeyInterval: number
  /** The first byte of a length prefix split across chunks, or −1. */
  #prefixHigh = -1
  /** Body bytes (ciphertext ‖ tag) of the current frame, or −1 while reading a length prefix. */
  #bodyLength = -1
  #bodyHave = 0
  #pieces: Buffer[] = []

  constructor(receive: CipherState, rekeyInterval: number) {
    this.#receive = receive
    this.#rekeyInterval = rekeyInterval
  }

  /** True when part of a frame has arrived but not all of it. */
  get midFrame(): boolean {
    return this.#prefixHigh >= 0 || this.#bodyLength >= 0
  }

  /**
   * Consumes `chunk`, handing each frame it completes to `sink` once authenticated.
   * @throws `ChannelError` `CHANNEL_FRAME_MALFORMED` (frame shorter than a tag) or
   * `CHANNEL_DECRYPT`; the opener is unusable afterwards.
   */
  push(chunk: Buffer, sink: FrameSink): void {
    const end = chunk.length
    let offset = 0
    while (offset < end) {
      if (this.#bodyLength < 0) {
        let length: number
        if (this.#prefixHigh >= 0) {
          length = (this.#prefixHigh << 8) | (chunk[offset++] as number)
          this.#prefixHigh = -1
        } else if (end - offset >= LENGTH_PREFIX) {
          length = ((chunk[offset] as number) << 8) | (chunk[offset + 1] as number)
          offset += LENGTH_PREFIX
        } else {
          this.#prefixHigh = chunk[offset++] as number
          continue
        }
        if (length < TAG_LENGTH) {
          throw new ChannelError('CHANNEL_FRAME_MALFORMED', `frame of ${length} bytes < 16`)
        }
        if (end - offset >= length) {
          // The whole frame is in this chunk: one call, on a view.
          const body = chunk.subarray(offset, offset + length)
          offset += length
          this.#open(body, sink)
          continue
        }
        this.#bodyLength = length
        this.#bodyHave = 0
        continue
      }
      const n = Math.min(this.#bodyLength - this.#bodyHave, end - offset)
      this.#pieces.push(chunk.subarray(offset, offset + n))
      this.#bodyHave += n
      offset += n
      if (this.#bodyHave < this.#bodyLength) continue
      const pieces = this.#pieces
      const length = this.#bodyLength
      this.#pieces = []
      this.#bodyLength = -1
      scratch ??= Buffer.allocUnsafe(MAX_FRAME_LENGTH)
      let at = 0
      for (const piece of pieces) at += piece.copy(scratch, at)
      this.#open(scratch.subarray(0, length), sink)
    }
  }

  #open(body: Buffer, sink: FrameSink): void {
    sink(openFrame(this.#receive, body, this.#rekeyInterval))
  }
}
