import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { DecodedStunMessage } from './codec/message.js'
import { findAttribute } from './codec/message.js'
import { AttrType, HEADER_LENGTH } from './constants.js'

/**
 * Short-term credential key (RFC 8489 §9.1.1): the password's UTF-8 bytes. The OpaqueString
 * profile (RFC 8265) is not applied; pass a prepared password.
 */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(password, 'utf8')
}

/**
 * Long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":" password), or
 * SHA-256 of the same for PASSWORD-ALGORITHM SHA-256. SASLprep/OpaqueString is not applied.
 */
export function longTermKey(
  username: string,
  realm: string,
  password: string,
  algorithm: 'md5' | 'sha256' = 'md5',
): Buffer {
  return createHash(algorithm).update(`${username}:${realm}:${password}`, 'utf8').digest()
}

/**
 * Verifies MESSAGE-INTEGRITY-SHA256 (when present, it is preferred) or MESSAGE-INTEGRITY of a
 * decoded message with `key`, in constant time. False when the message has neither.
 */
export function verifyIntegrity(msg: DecodedStunMessage, key: Uint8Array): boolean {
  const attr =
    findAttribute(msg, AttrType.MessageIntegritySha256) ??
    findAttribute(msg, AttrType.MessageIntegrity)
  if (!attr) return false
  const hash = attr.type === AttrType.MessageIntegrity ? 'sha1' : 'sha256'
  // The length field is rewritten to end right after the integrity attribute.
  const length = Buffer.alloc(2)
  length.writeUInt16BE(attr.offset + 4 + attr.value.length - HEADER_LENGTH)
  const mac = createHmac(hash, key)
    .update(msg.raw.subarray(0, 2))
    .update(length)
    .update(msg.raw.subarray(4, attr.offset))
    .digest()
    .subarray(0, attr.value.length)
  return timingSafeEqual(mac, attr.value)
}

/** True when the message carries a FINGERPRINT (decodeMessage has then already checked it). */
export function hasFingerprint(msg: DecodedStunMessage): boolean {
  return findAttribute(msg, AttrType.Fingerprint) !== undefined
}
