import { randomBytes } from 'node:crypto'
import { ChannelError } from './errors.js'
import type { NoiseCipher } from './noise/cipher-state.js'

/**
 * The pre-handshake hello, sent by both sides at once, in clear, fixed 24 bytes:
 * `"p2pd"` ‖ version `0x02` ‖ role wish (`0x01` initiator, `0x00` responder) ‖ the ciphers it
 * speaks, most preferred first (2 bytes: `0x01` ChaChaPoly, `0x02` AESGCM, `0x00` none) ‖ 16
 * random bytes.
 *
 * It decides who plays the Noise initiator and which AEAD the Noise protocol uses. Different
 * wishes: each gets its wish. Same wish (TCP simultaneous open: both dialled; or both
 * accepted): the side with the greater nonce (unsigned big-endian) is the initiator. Equal
 * nonces (a reflected hello, 2^-128 otherwise) abort. The cipher is the initiator's most
 * preferred one that the responder also lists. The hello is not authenticated by itself, but
 * both hellos go into the Noise prologue: tampering with either fails the handshake.
 */
export const HELLO_LENGTH = 24

const MAGIC = Buffer.from('p2pd', 'latin1')
const VERSION = 2
const CIPHER_IDS: Record<NoiseCipher, number> = { ChaChaPoly: 1, AESGCM: 2 }
const CIPHER_BY_ID: readonly (NoiseCipher | undefined)[] = [undefined, 'ChaChaPoly', 'AESGCM']
/** Ciphers listed in a hello. */
export const MAX_HELLO_CIPHERS = 2

export interface Hello {
  readonly wantsInitiator: boolean
  /** Ciphers spoken, most preferred first (unknown ids from a newer peer are dropped). */
  readonly ciphers: readonly NoiseCipher[]
  readonly nonce: Buffer
}

export function createHello(
  wantsInitiator: boolean,
  ciphers: readonly NoiseCipher[] = ['ChaChaPoly'],
  nonce: Buffer = randomBytes(16),
): Hello {
  return { wantsInitiator, ciphers, nonce }
}

export function encodeHello(hello: Hello): Buffer {
  const out = Buffer.alloc(HELLO_LENGTH)
  MAGIC.copy(out, 0)
  out[4] = VERSION
  out[5] = hello.wantsInitiator ? 1 : 0
  hello.ciphers.slice(0, MAX_HELLO_CIPHERS).forEach((c, i) => {
    out[6 + i] = CIPHER_IDS[c]
  })
  hello.nonce.copy(out, 8)
  return out
}

/** Parses a peer's hello. @throws `ChannelError` `CHANNEL_HELLO`. */
export function decodeHello(bytes: Buffer): Hello {
  if (bytes.length !== HELLO_LENGTH || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new ChannelError('CHANNEL_HELLO', 'peer did not send a p2pd hello')
  }
  if (bytes[4] !== VERSION) {
    throw new ChannelError('CHANNEL_HELLO', `unsupported p2pd channel version ${bytes[4]}`)
  }
  const role = bytes[5]
  if (role !== 0 && role !== 1) throw new ChannelError('CHANNEL_HELLO', 'bad role in hello')
  const ciphers: NoiseCipher[] = []
  for (const id of bytes.subarray(6, 8)) {
    const cipher = CIPHER_BY_ID[id]
    if (cipher && !ciphers.includes(cipher)) ciphers.push(cipher)
  }
  return { wantsInitiator: role === 1, ciphers, nonce: Buffer.from(bytes.subarray(8)) }
}

/**
 * The AEAD of the Noise protocol: the initiator's most preferred cipher that the responder
 * also speaks. @throws `ChannelError` `CHANNEL_HELLO` when they have none in common.
 */
export function chooseCipher(initiator: Hello, responder: Hello): NoiseCipher {
  const cipher = initiator.ciphers.find((c) => responder.ciphers.includes(c))
  if (!cipher) throw new ChannelError('CHANNEL_HELLO', 'no cipher in common with the peer')
  return cipher
}

const PROLOGUE_LABEL = 'p2pd/v2/noise'

/**
 * The Noise prologue: `"p2pd/v2/noise"` ‖ rekey interval (uint64be) ‖ the initiator's hello ‖
 * the responder's hello, as sent. It binds into the handshake hash everything the two sides
 * settled in the clear (version, roles, the cipher offers), so an attacker who rewrites a hello
 * — to downgrade the cipher, say — makes message 2 fail to authenticate.
 */
export function channelPrologue(
  rekeyInterval: number,
  initiatorHello: Buffer,
  responderHello: Buffer,
): Buffer {
  const out = Buffer.alloc(13 + 8 + 2 * HELLO_LENGTH)
  out.write(PROLOGUE_LABEL, 0, 'latin1')
  out.writeUInt32BE(Math.floor(rekeyInterval / 2 ** 32), 13)
  out.writeUInt32BE(rekeyInterval % 2 ** 32, 17)
  initiatorHello.copy(out, 21)
  responderHello.copy(out, 21 + HELLO_LENGTH)
  return out
}

/** True when we play the Noise initiator. @throws `ChannelError` `CHANNEL_HELLO` on a tie. */
export function resolveInitiator(mine: Hello, theirs: Hello): boolean {
  if (mine.wantsInitiator !== theirs.wantsInitiator) return mine.wantsInitiator
  const order = Buffer.compare(mine.nonce, theirs.nonce)
  if (order === 0)
    throw new ChannelError('CHANNEL_HELLO', 'tie-break nonces are equal (reflected?)')
  return order > 0
}
