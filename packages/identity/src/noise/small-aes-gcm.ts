import { type Cipher, createCipheriv } from 'node:crypto'
import { ChannelError } from '../errors.js'
import { ghashKey, ghashMultiply, readWord } from './ghash.js'

/** Largest plaintext sealed by {@link SmallAesGcm}; above it one `node:crypto` call is cheaper. */
export const SMALL_AEAD_MAX = 128

const TAG = 16
/** Counter blocks per nonce: `J0` (the tag mask), then one per 16 bytes of plaintext. */
const BLOCKS_PER_NONCE = 1 + SMALL_AEAD_MAX / 16
const NONCE_BYTES = BLOCKS_PER_NONCE * 16
/** Nonces whose keystream is made in one AES-ECB call, at most (the window grows to it). */
const MAX_WINDOW = 32
const TWO_32 = 2 ** 32

/**
 * AES-256-GCM for small messages (≤ {@link SMALL_AEAD_MAX} bytes, no associated data) with the
 * Noise nonce `0^32 ‖ n` (64-bit big-endian), byte-identical to `node:crypto`'s.
 *
 * Why: each `createCipheriv` costs microseconds of setup (an OpenSSL context per message) that
 * dwarf the work on 64 bytes. Here one reusable AES-ECB context (AES-NI inside OpenSSL) makes the
 * counter-mode keystream for a window of upcoming nonces in one call, and GHASH runs in
 * constant-time JavaScript (see `ghash.ts`). The keystream is as secret as the key and lives as
 * long as this object; a rekey makes a new one.
 * @internal
 */
export class SmallAesGcm {
  readonly #ecb: Cipher
  readonly #h: Int32Array
  readonly #y = new Int32Array(4)
  /** Keystream for nonces [#first, #first + #count): NONCE_BYTES each. */
  #stream: Buffer = Buffer.alloc(0)
  #first = 0
  #count = 0
  #window = 1
  /** Counter blocks `0^32 ‖ n ‖ i` for a window of nonces (the i are written once). */
  #counters: DataView | undefined

  constructor(key: Uint8Array) {
    this.#ecb = createCipheriv('aes-256-ecb', key, null)
    this.#ecb.setAutoPadding(false)
    this.#h = ghashKey(this.#ecb.update(Buffer.alloc(16)))
  }

  /** Offset of nonce `n`'s keystream in #stream, making it (and the next ones) if needed. */
  #keystream(n: number): number {
    if (n >= this.#first && n < this.#first + this.#count) return (n - this.#first) * NONCE_BYTES
    // A pipe that keeps sending makes its keystream in ever larger batches; an idle one stays small.
    const count = this.#window
    if (this.#window < MAX_WINDOW) this.#window *= 2
    let counters = this.#counters
    if (counters === undefined || counters.byteLength < count * NONCE_BYTES) {
      counters = new DataView(new ArrayBuffer(count * NONCE_BYTES))
      for (let at = 0; at < counters.byteLength; at += 16) {
        counters.setUint32(at + 12, ((at % NONCE_BYTES) >> 4) + 1)
      }
      this.#counters = counters
    }
    for (let i = 0; i < count; i++) {
      const m = n + i
      const hi = Math.floor(m / TWO_32)
      const lo = m % TWO_32
      for (let at = i * NONCE_BYTES, end = at + NONCE_BYTES; at < end; at += 16) {
        counters.setUint32(at + 4, hi)
        counters.setUint32(at + 8, lo)
      }
    }
    this.#stream = this.#ecb.update(new Uint8Array(counters.buffer, 0, count * NONCE_BYTES))
    this.#first = n
    this.#count = count
    return 0
  }

  /** GHASH of `data[offset, offset + length)` (zero-padded) and its length block into #y. */
  #ghash(data: Uint8Array, offset: number, length: number): void {
    const y = this.#y
    const h = this.#h
    y.fill(0)
    const end = offset + length
    let at = offset
    for (; at + 16 <= end; at += 16) {
      y[0] = (y[0] as number) ^ readWord(data, at)
      y[1] = (y[1] as number) ^ readWord(data, at + 4)
      y[2] = (y[2] as number) ^ readWord(data, at + 8)
      y[3] = (y[3] as number) ^ readWord(data, at + 12)
      ghashMultiply(y, h)
    }
    if (at < end) {
      for (let i = 0; at < end; i++, at++) {
        const w = i >> 2
        y[w] = (y[w] as number) ^ ((data[at] as number) << (24 - 8 * (i & 3)))
      }
      ghashMultiply(y, h)
    }
    // Length block: 64-bit bit lengths of the (empty) associated data and of the ciphertext.
    y[3] = (y[3] as number) ^ (length * 8)
    ghashMultiply(y, h)
  }

  /**
   * Encrypts `plaintext` (≤ {@link SMALL_AEAD_MAX} bytes) under nonce `n` into `out` at `offset`:
   * ciphertext then the 16-byte tag.
   */
  seal(n: number, plaintext: Uint8Array, out: Uint8Array, offset: number): void {
    const length = plaintext.length
    if (length > SMALL_AEAD_MAX) throw new RangeError('plaintext too long for SmallAesGcm')
    const ks = this.#keystream(n)
    const stream = this.#stream
    for (let i = 0; i < length; i++) {
      out[offset + i] = (plaintext[i] as number) ^ (stream[ks + 16 + i] as number)
    }
    this.#ghash(out, offset, length)
    const y = this.#y
    const tagAt = offset + length
    for (let w = 0; w < 4; w++) {
      const t = (y[w] as number) ^ readWord(stream, ks + 4 * w)
      out[tagAt + 4 * w] = t >>> 24
      out[tagAt + 4 * w + 1] = t >>> 16
      out[tagAt + 4 * w + 2] = t >>> 8
      out[tagAt + 4 * w + 3] = t
    }
  }

  /**
   * Authenticates and decrypts `body` (ciphertext ‖ tag, at most {@link SMALL_AEAD_MAX} + 16
   * bytes) under nonce `n`. The tag is checked in constant time before any plaintext is made.
   * @throws `ChannelError` `CHANNEL_DECRYPT` on a bad tag.
   */
  open(n: number, body: Uint8Array): Buffer {
    const length = body.length - TAG
    if (length < 0 || length > SMALL_AEAD_MAX) {
      throw new RangeError('body length out of range for SmallAesGcm')
    }
    const ks = this.#keystream(n)
    const stream = this.#stream
    this.#ghash(body, 0, length)
    const y = this.#y
    let diff = 0
    for (let w = 0; w < 4; w++) {
      diff |= (y[w] as number) ^ readWord(stream, ks + 4 * w) ^ readWord(body, length + 4 * w)
    }
    if (diff !== 0) throw new ChannelError('CHANNEL_DECRYPT', 'frame failed authentication')
    const plaintext = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) {
      plaintext[i] = (body[i] as number) ^ (stream[ks + 16 + i] as number)
    }
    return plaintext
  }
}
