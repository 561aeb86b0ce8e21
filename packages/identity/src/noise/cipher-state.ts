import {
  type CipherChaCha20Poly1305,
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type DecipherChaCha20Poly1305,
  type KeyObject,
} from 'node:crypto'
import { ChannelError } from '../errors.js'
import { SMALL_AEAD_MAX, SmallAesGcm } from './small-aes-gcm.js'

/** AEAD tag length (both ciphers). */
export const TAG_LENGTH = 16

/** The Noise cipher functions p2pd speaks, by their Noise names. */
export type NoiseCipher = 'ChaChaPoly' | 'AESGCM'

/** A streaming AEAD encryptor (both ciphers have this shape in node:crypto). */
export type AeadCipher = CipherChaCha20Poly1305

const ALGORITHM = {
  ChaChaPoly: 'chacha20-poly1305',
  AESGCM: 'aes-256-gcm',
} as const

const EMPTY = Buffer.alloc(0)
// One options object for every cipher made (the 16-byte tag is the default for both AEADs, but
// explicit: a decipher then refuses a shorter tag).
const AEAD_OPTIONS = { authTagLength: TAG_LENGTH } as const
const ZEROS_32 = Buffer.alloc(32)
// The Noise spec reserves nonce 2^64−1 for rekey; we stop long before, at 2^53 − 1 (JS safe int).
const LAST_NONCE = Number.MAX_SAFE_INTEGER - 1
const TWO_32 = 2 ** 32
/**
 * The nonce of the message being processed, shared by every state: `createCipheriv` copies the
 * IV, so one buffer serves them all (an idle pipe holds none). Bytes 0–3 stay zero.
 */
const IV = Buffer.alloc(12)
/**
 * Messages under one key before small AES-GCM messages take {@link SmallAesGcm}: a pipe that
 * only handshakes (one transport frame each way) never builds it, so an idle pipe stays light.
 */
const SMALL_AEAD_FROM_NONCE = 2

/**
 * Noise `CipherState` (spec §5.1) for ChaChaPoly or AESGCM: key `k` and 64-bit counter `n`. The
 * nonce is 4 zero bytes then `n`, little-endian for ChaChaPoly and big-endian for AESGCM (spec
 * §12.3, §12.4). The key lives in a cached `KeyObject`; one module-wide nonce buffer is reused.
 */
export class CipherState {
  readonly cipher: NoiseCipher
  readonly #algorithm: 'chacha20-poly1305' | 'aes-256-gcm'
  #key: KeyObject | undefined
  #n = 0
  /** AES-GCM for small messages without a per-message OpenSSL context; made when first used. */
  #small: SmallAesGcm | undefined

  constructor(cipher: NoiseCipher = 'ChaChaPoly') {
    this.cipher = cipher
    this.#algorithm = ALGORITHM[cipher]
  }

  /** `InitializeKey(k)`: sets the key (or none) and resets the nonce to 0. */
  initializeKey(key: Uint8Array | undefined): void {
    this.#key = key ? createSecretKey(Buffer.from(key)) : undefined
    this.#small = undefined
    this.#n = 0
  }

  hasKey(): boolean {
    return this.#key !== undefined
  }

  /** The next nonce: also the number of messages processed under this state. */
  get nonce(): number {
    return this.#n
  }

  setNonce(n: number): void {
    this.#n = n
  }

  #ivFor(n: number): Buffer {
    if (this.cipher === 'AESGCM') {
      IV.writeUInt32BE(Math.floor(n / TWO_32), 4)
      IV.writeUInt32BE(n % TWO_32, 8)
    } else {
      IV.writeUInt32LE(n % TWO_32, 4)
      IV.writeUInt32LE(Math.floor(n / TWO_32), 8)
    }
    return IV
  }

  #cipherFor(key: KeyObject, iv: Buffer): AeadCipher {
    // The two AEADs share the streaming API; node's types differ only in name.
    return createCipheriv(this.#algorithm as 'chacha20-poly1305', key, iv, AEAD_OPTIONS)
  }

  #decipherFor(key: KeyObject, iv: Buffer): DecipherChaCha20Poly1305 {
    return createDecipheriv(this.#algorithm as 'chacha20-poly1305', key, iv, AEAD_OPTIONS)
  }

  #nextIv(): Buffer {
    this.#checkNonce()
    return this.#ivFor(this.#n)
  }

  #checkNonce(): void {
    if (this.#n > LAST_NONCE) {
      throw new ChannelError('CHANNEL_NONCE_EXHAUSTED', 'nonce space exhausted')
    }
  }

  /** The small-message AES-GCM, when this message (no AD, `length` bytes) should take it. */
  #smallFor(key: KeyObject, ad: Uint8Array, length: number): SmallAesGcm | undefined {
    if (
      this.cipher !== 'AESGCM' ||
      ad.length > 0 ||
      length > SMALL_AEAD_MAX ||
      this.#n < SMALL_AEAD_FROM_NONCE
    ) {
      return undefined
    }
    this.#small ??= new SmallAesGcm(key.export())
    return this.#small
  }

  /** `EncryptWithAd(ad, plaintext)`: ciphertext ‖ tag, or a copy of the plaintext without a key. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    if (!this.#key) return Buffer.from(plaintext)
    const out = Buffer.allocUnsafe(plaintext.length + TAG_LENGTH)
    this.encryptInto(ad, plaintext, out, 0)
    return out
  }

  /**
   * Encrypts into `out` at `offset` (ciphertext then tag, `plaintext.length + 16` bytes): the
   * transport writes the length prefix and the ciphertext into one buffer this way.
   */
  encryptInto(ad: Uint8Array, plaintext: Uint8Array, out: Buffer, offset: number): void {
    const key = this.#key
    if (!key) throw new Error('encryptInto needs a key')
    const small = this.#smallFor(key, ad, plaintext.length)
    if (small) {
      this.#checkNonce()
      small.seal(this.#n, plaintext, out, offset)
      this.#n++
      return
    }
    const cipher = this.#cipherFor(key, this.#nextIv())
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length })
    const ct = cipher.update(plaintext)
    ct.copy(out, offset)
    cipher.final()
    cipher.getAuthTag().copy(out, offset + plaintext.length)
    this.#n++
  }

  /**
   * Starts encrypting the next message (no associated data) from several pieces: feed them to
   * `update()`, then `final()` and `getAuthTag()`. The nonce advances now.
   */
  beginEncrypt(): AeadCipher {
    const key = this.#key
    if (!key) throw new Error('beginEncrypt needs a key')
    const cipher = this.#cipherFor(key, this.#nextIv())
    this.#n++
    return cipher
  }

  /**
   * `DecryptWithAd(ad, ciphertext)`. On authentication failure the nonce does not advance and a
   * `ChannelError` `CHANNEL_DECRYPT` is thrown.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    const key = this.#key
    if (!key) return Buffer.from(ciphertext)
    if (ciphertext.length < TAG_LENGTH) {
      throw new ChannelError('CHANNEL_DECRYPT', 'ciphertext shorter than a tag')
    }
    const bodyLength = ciphertext.length - TAG_LENGTH
    const small = this.#smallFor(key, ad, bodyLength)
    if (small) {
      this.#checkNonce()
      const plaintext = small.open(this.#n, ciphertext)
      this.#n++
      return plaintext
    }
    let plaintext: Buffer
    try {
      const decipher = this.#decipherFor(key, this.#nextIv())
      if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: bodyLength })
      decipher.setAuthTag(ciphertext.subarray(bodyLength))
      plaintext = decipher.update(ciphertext.subarray(0, bodyLength))
      decipher.final()
    } catch (err) {
      if (err instanceof ChannelError) throw err
      throw new ChannelError('CHANNEL_DECRYPT', 'frame failed authentication', { cause: err })
    }
    this.#n++
    return plaintext
  }

  /**
   * `Rekey()` (spec §4.2): `k = ENCRYPT(k, 2^64−1, zerolen, zeros)[0:32]`. The nonce is kept.
   */
  rekey(): void {
    const key = this.#key
    if (!key) return
    // Nonce 2^64−1: the same bytes in either byte order.
    const iv = Buffer.alloc(12, 0xff)
    iv.fill(0, 0, 4)
    const cipher = this.#cipherFor(key, iv)
    const next = cipher.update(ZEROS_32)
    cipher.final()
    this.#key = createSecretKey(next.subarray(0, 32))
    this.#small = undefined
  }
}

/** For callers needing an empty associated-data buffer. */
export const NO_AD = EMPTY
