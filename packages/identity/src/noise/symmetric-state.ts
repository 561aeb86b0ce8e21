import { ChannelError } from '../errors.js'
import { CipherState, type NoiseCipher } from './cipher-state.js'
import { HASHLEN, hash, hkdf } from './hash.js'

/**
 * Noise `SymmetricState` (spec §5.2) with SHA-256: chaining key `ck`, handshake hash `h`, and
 * the `CipherState` that encrypts handshake payloads once a DH has been mixed in.
 */
export class SymmetricState {
  readonly #cipherName: NoiseCipher
  readonly #cipher: CipherState
  #ck: Buffer
  #h: Buffer

  /** `InitializeSymmetric(protocol_name)`; `cipher` must be the one the name says. */
  constructor(protocolName: string, cipher: NoiseCipher = 'ChaChaPoly') {
    this.#cipherName = cipher
    this.#cipher = new CipherState(cipher)
    const name = Buffer.from(protocolName, 'utf8')
    this.#h =
      name.length <= HASHLEN
        ? Buffer.concat([name, Buffer.alloc(HASHLEN - name.length)])
        : hash(name)
    this.#ck = Buffer.from(this.#h)
    this.#cipher.initializeKey(undefined)
  }

  /** `MixKey(input_key_material)`. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = hkdf(this.#ck, inputKeyMaterial, 2)
    this.#ck = ck
    this.#cipher.initializeKey(tempK) // HASHLEN is 32: no truncation needed
  }

  /** `MixHash(data)`. */
  mixHash(data: Uint8Array): void {
    this.#h = hash(this.#h, data)
  }

  /** `GetHandshakeHash()`: a copy of `h`, usable as a channel binding. */
  handshakeHash(): Buffer {
    return Buffer.from(this.#h)
  }

  hasKey(): boolean {
    return this.#cipher.hasKey()
  }

  /** `EncryptAndHash(plaintext)`. */
  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = this.#cipher.encryptWithAd(this.#h, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }

  /** `DecryptAndHash(ciphertext)`; a failure is a `CHANNEL_HANDSHAKE` error. */
  decryptAndHash(ciphertext: Uint8Array): Buffer {
    let plaintext: Buffer
    try {
      plaintext = this.#cipher.decryptWithAd(this.#h, ciphertext)
    } catch (err) {
      throw new ChannelError('CHANNEL_HANDSHAKE', 'handshake message failed authentication', {
        cause: err,
      })
    }
    this.mixHash(ciphertext)
    return plaintext
  }

  /** `Split()`: the two transport cipher states, initiator→responder first. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.#ck, Buffer.alloc(0), 2)
    const c1 = new CipherState(this.#cipherName)
    const c2 = new CipherState(this.#cipherName)
    c1.initializeKey(k1)
    c2.initializeKey(k2)
    return [c1, c2]
  }
}
