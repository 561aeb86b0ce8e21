import type { DecipherChaCha20Poly1305 } from 'node:crypto'
import { ChannelError } from './errors.js'
import { LENGTH_PREFIX } from './framing.js'
import { type CipherState, TAG_LENGTH } from './noise/cipher-state.js'
import { openFrame } from './transport-frame.js'

/** Frame plaintext, in order; no pieces for the close frame (a zero-length plaintext). */
export type FrameSink = (pieces: readonly Buffer[]) => void

const NONE: readonly Buffer[] = []

/**
 * Decrypts transport frames (`uint16be length ‖ ciphertext ‖ tag`) straight out of the socket's
 * chunks, without reassembling them.
 *
 * A socket hands out reads of at most 64 KiB, so a full 65,537-byte frame always straddles two
 * chunks: copying it back together cost a 64 KiB `memcpy` and allocation per frame. A frame
 * that lies inside one chunk is opened in one call on a view of it; a straddling one is fed
 * through a streaming decipher as its pieces arrive. Either way, plaintext reaches the sink
 * only after the frame's tag has verified — never a byte of a forged frame. It holds at most one
 * frame's plaintext, one 16-byte tag and the 2-byte prefix.
 */
export class FrameOpener {
  readonly #receive: CipherState
  readonly #rekeyInterval: number
  readonly #prefix = Buffer.alloc(LENGTH_PREFIX)
  #prefixHave = 0
  /** Ciphertext bytes of the current frame, or −1 while reading a length prefix. */
  #cipherLength = -1
  #cipherHave = 0
  #decipher: DecipherChaCha20Poly1305 | undefined
  #pieces: Buffer[] = []
  readonly #tag = Buffer.alloc(TAG_LENGTH)
  #tagHave = 0

  constructor(receive: CipherState, rekeyInterval: number) {
    this.#receive = receive
    this.#rekeyInterval = rekeyInterval
  }

  /** True when part of a frame has arrived but not all of it. */
  get midFrame(): boolean {
    return this.#prefixHave > 0 || this.#cipherLength >= 0
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
      if (this.#cipherLength < 0) {
        let length: number
        if (this.#prefixHave === 0 && end - offset >= LENGTH_PREFIX) {
          length = ((chunk[offset] as number) << 8) | (chunk[offset + 1] as number)
          offset += LENGTH_PREFIX
        } else {
          this.#prefix[this.#prefixHave++] = chunk[offset++] as number
          if (this.#prefixHave < LENGTH_PREFIX) continue
          this.#prefixHave = 0
          length = this.#prefix.readUInt16BE(0)
        }
        if (length < TAG_LENGTH) {
          throw new ChannelError('CHANNEL_FRAME_MALFORMED', `frame of ${length} bytes < 16`)
        }
        if (end - offset >= length) {
          // The whole frame is in this chunk: one call, on a view.
          const body = chunk.subarray(offset, offset + length)
          offset += length
          const plaintext = openFrame(this.#receive, body, this.#rekeyInterval)
          sink(plaintext.length > 0 ? [plaintext] : NONE)
          continue
        }
        this.#cipherLength = length - TAG_LENGTH
        this.#cipherHave = 0
        this.#tagHave = 0
        this.#decipher = this.#receive.beginDecrypt()
        continue
      }
      const decipher = this.#decipher as DecipherChaCha20Poly1305
      if (this.#cipherHave < this.#cipherLength) {
        const n = Math.min(this.#cipherLength - this.#cipherHave, end - offset)
        this.#pieces.push(decipher.update(chunk.subarray(offset, offset + n)))
        this.#cipherHave += n
        offset += n
        continue
      }
      const n = Math.min(TAG_LENGTH - this.#tagHave, end - offset)
      chunk.copy(this.#tag, this.#tagHave, offset, offset + n)
      this.#tagHave += n
      offset += n
      if (this.#tagHave < TAG_LENGTH) continue
      this.#receive.finishDecrypt(decipher, this.#tag)
      if (this.#receive.nonce % this.#rekeyInterval === 0) this.#receive.rekey()
      const pieces = this.#pieces
      this.#pieces = []
      this.#decipher = undefined
      this.#cipherLength = -1
      sink(pieces)
    }
  }
}
