import { randomBytes } from 'node:crypto'
import { ChannelError } from './errors.js'

/**
 * The pre-handshake hello, sent by both sides at once, in clear, fixed 22 bytes:
 * `"p2pd"` ‖ version `0x01` ‖ role wish (`0x01` initiator, `0x00` responder) ‖ 16 random bytes.
 *
 * It only decides who plays the Noise initiator. Different wishes: each gets its wish. Same
 * wish (TCP simultaneous open: both dialled; or both accepted): the side with the greater nonce
 * (unsigned big-endian) is the initiator. Equal nonces (a reflected hello, 2^-128 otherwise)
 * abort. It is not authenticated: tampering can only make the handshake fail.
 */
export const HELLO_LENGTH = 22

const MAGIC = Buffer.from('p2pd', 'latin1')
const VERSION = 1

export interface Hello {
  readonly wantsInitiator: boolean
  readonly nonce: Buffer
}

export function createHello(wantsInitiator: boolean, nonce: Buffer = randomBytes(16)): Hello {
  return { wantsInitiator, nonce }
}

export function encodeHello(hello: Hello): Buffer {
  const out = Buffer.alloc(HELLO_LENGTH)
  MAGIC.copy(out, 0)
  out[4] = VERSION
  out[5] = hello.wantsInitiator ? 1 : 0
  hello.nonce.copy(out, 6)
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
  return { wantsInitiator: role === 1, nonce: Buffer.from(bytes.subarray(6)) }
}

/** True when we play the Noise initiator. @throws `ChannelError` `CHANNEL_HELLO` on a tie. */
export function resolveInitiator(mine: Hello, theirs: Hello): boolean {
  if (mine.wantsInitiator !== theirs.wantsInitiator) return mine.wantsInitiator
  const order = Buffer.compare(mine.nonce, theirs.nonce)
  if (order === 0)
    throw new ChannelError('CHANNEL_HELLO', 'tie-break nonces are equal (reflected?)')
  return order > 0
}
