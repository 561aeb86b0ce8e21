import { LENGTH_PREFIX } from './framing.js'
import { type CipherState, NO_AD, TAG_LENGTH } from './noise/cipher-state.js'

/**
 * Encrypts one transport frame (`uint16be length ‖ ciphertext ‖ tag`) into a single buffer,
 * then rekeys the cipher state if this frame completed a rekey interval.
 */
export function sealFrame(send: CipherState, plaintext: Uint8Array, rekeyInterval: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX + plaintext.length + TAG_LENGTH)
  frame.writeUInt16BE(plaintext.length + TAG_LENGTH, 0)
  send.encryptInto(NO_AD, plaintext, frame, LENGTH_PREFIX)
  if (send.nonce % rekeyInterval === 0) send.rekey()
  return frame
}

/**
 * Decrypts one transport frame body (`ciphertext ‖ tag`), rekeying in lockstep with
 * {@link sealFrame}. @throws `ChannelError` `CHANNEL_DECRYPT`.
 */
export function openFrame(receive: CipherState, body: Uint8Array, rekeyInterval: number): Buffer {
  const plaintext = receive.decryptWithAd(NO_AD, body)
  if (receive.nonce % rekeyInterval === 0) receive.rekey()
  return plaintext
}
