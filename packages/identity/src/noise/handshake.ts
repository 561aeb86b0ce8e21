import type { KeyObject } from 'node:crypto'
import { ChannelError } from '../errors.js'
import type { CipherState, NoiseCipher } from './cipher-state.js'
import { TAG_LENGTH } from './cipher-state.js'
import { DHLEN, dh, generateX25519, type X25519KeyPair, x25519PublicKey } from './dh.js'
import { SymmetricState } from './symmetric-state.js'

/** The protocol p2pd speaks by default (and with any peer that lacks AES-GCM). */
export const NOISE_PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'

/** The Noise protocol name for `cipher`: `Noise_XX_25519_<cipher>_SHA256`. */
export function noiseProtocolName(cipher: NoiseCipher): string {
  return `Noise_XX_25519_${cipher}_SHA256`
}

type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss'

/** XX: `-> e`, `<- e, ee, s, es`, `-> s, se`. Message i is sent by the initiator when i is even. */
const XX: readonly (readonly Token[])[] = [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]

/** Options of {@link HandshakeState}. */
export interface HandshakeOptions {
  readonly initiator: boolean
  readonly prologue: Uint8Array
  /** The cipher function (default `ChaChaPoly`); part of the protocol name, so of `h`. */
  readonly cipher?: NoiseCipher
  /** Our static key pair `s`. */
  readonly staticKey: X25519KeyPair
  /** Our ephemeral key pair `e`; generated when needed if absent. Inject only in tests. */
  readonly ephemeralKey?: X25519KeyPair
}

/** The outcome of a completed handshake. */
export interface HandshakeResult {
  /** Encrypts what we send. */
  readonly send: CipherState
  /** Decrypts what we receive. */
  readonly receive: CipherState
  /** The peer's static public key (raw 32 bytes), proven by the handshake's DHs. */
  readonly remoteStatic: Buffer
  /** `h` after the last message: identical on both sides, a channel binding. */
  readonly handshakeHash: Buffer
}

/**
 * Noise `HandshakeState` (spec §5.3) for pattern XX. Call `writeMessage`/`readMessage` in turn;
 * after the third message `result` holds the transport cipher states.
 *
 * Every failure (short or long message, bad tag, low-order key) is a `ChannelError`
 * `CHANNEL_HANDSHAKE`; after a failure the state is unusable.
 */
export class HandshakeState {
  readonly initiator: boolean
  readonly #symmetric: SymmetricState
  readonly #s: X25519KeyPair
  #e: X25519KeyPair | undefined
  #rs: KeyObject | undefined
  #rsRaw: Buffer | undefined
  #re: KeyObject | undefined
  #index = 0
  #failed = false
  #result: HandshakeResult | undefined

  constructor(options: HandshakeOptions) {
    this.initiator = options.initiator
    const cipher = options.cipher ?? 'ChaChaPoly'
    this.#symmetric = new SymmetricState(noiseProtocolName(cipher), cipher)
    this.#s = options.staticKey
    this.#e = options.ephemeralKey
    this.#symmetric.mixHash(options.prologue)
  }

  /** True when it is our turn to write. */
  get isMyTurn(): boolean {
    return this.#index < XX.length && this.#index % 2 === (this.initiator ? 0 : 1)
  }

  get isComplete(): boolean {
    return this.#result !== undefined
  }

  /** The transport state after the last message, else `undefined`. */
  get result(): HandshakeResult | undefined {
    return this.#result
  }

  /** The peer's static key once received (message 2 for the initiator, 3 for the responder). */
  get remoteStatic(): Buffer | undefined {
    return this.#rsRaw
  }

  #fail(message: string, cause?: unknown): ChannelError {
    this.#failed = true
    return cause instanceof ChannelError
      ? cause
      : new ChannelError('CHANNEL_HANDSHAKE', message, { cause })
  }

  #check(writing: boolean): readonly Token[] {
    if (this.#failed) throw new ChannelError('CHANNEL_HANDSHAKE', 'handshake already failed')
    const tokens = XX[this.#index]
    if (!tokens) throw new ChannelError('CHANNEL_HANDSHAKE', 'handshake already complete')
    if (this.isMyTurn !== writing) {
      throw new ChannelError(
        'CHANNEL_HANDSHAKE',
        writing ? 'not our turn to write' : 'not our turn to read',
      )
    }
    return tokens
  }

  #mixDh(token: 'ee' | 'es' | 'se' | 'ss'): void {
    // es: initiator's e with responder's s; se: initiator's s with responder's e.
    const [mine, theirs] =
      token === 'ee'
        ? [this.#e, this.#re]
        : token === 'ss'
          ? [this.#s, this.#rs]
          : (token === 'es') === this.initiator
            ? [this.#e, this.#rs]
            : [this.#s, this.#re]
    if (!mine || !theirs) throw new ChannelError('CHANNEL_HANDSHAKE', `missing key for ${token}`)
    this.#symmetric.mixKey(dh(mine, theirs))
  }

  /** `WriteMessage(payload)`: the next handshake message to send. */
  writeMessage(payload: Uint8Array = Buffer.alloc(0)): Buffer {
    const tokens = this.#check(true)
    try {
      const parts: Buffer[] = []
      for (const token of tokens) {
        if (token === 'e') {
          this.#e ??= generateX25519()
          parts.push(this.#e.publicRaw)
          this.#symmetric.mixHash(this.#e.publicRaw)
        } else if (token === 's') {
          parts.push(this.#symmetric.encryptAndHash(this.#s.publicRaw))
        } else {
          this.#mixDh(token)
        }
      }
      parts.push(this.#symmetric.encryptAndHash(payload))
      this.#advance()
      return Buffer.concat(parts)
    } catch (err) {
      throw this.#fail('cannot write handshake message', err)
    }
  }

  /** `ReadMessage(message)`: the payload the peer sent. */
  readMessage(message: Uint8Array): Buffer {
    const tokens = this.#check(false)
    try {
      let offset = 0
      const take = (n: number): Uint8Array => {
        if (message.length - offset < n) {
          throw new ChannelError('CHANNEL_HANDSHAKE', 'handshake message too short')
        }
        const out = message.subarray(offset, offset + n)
        offset += n
        return out
      }
      for (const token of tokens) {
        if (token === 'e') {
          const re = take(DHLEN)
          this.#re = x25519PublicKey(re)
          this.#symmetric.mixHash(re)
        } else if (token === 's') {
          const rs = this.#symmetric.decryptAndHash(
            take(this.#symmetric.hasKey() ? DHLEN + TAG_LENGTH : DHLEN),
          )
          this.#rsRaw = rs
          this.#rs = x25519PublicKey(rs)
        } else {
          this.#mixDh(token)
        }
      }
      const payload = this.#symmetric.decryptAndHash(message.subarray(offset))
      this.#advance()
      return payload
    } catch (err) {
      throw this.#fail('cannot read handshake message', err)
    }
  }

  #advance(): void {
    this.#index++
    if (this.#index < XX.length) return
    const [initiatorToResponder, responderToInitiator] = this.#symmetric.split()
    this.#result = {
      send: this.initiator ? initiatorToResponder : responderToInitiator,
      receive: this.initiator ? responderToInitiator : initiatorToResponder,
      remoteStatic: this.#rsRaw as Buffer,
      handshakeHash: this.#symmetric.handshakeHash(),
    }
  }
}
