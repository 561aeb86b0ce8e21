import { createHmac } from 'node:crypto'
import {
  AttrType,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  MAGIC_COOKIE,
  type StunClass,
  TRANSACTION_ID_LENGTH,
} from '../constants.js'
import { StunError } from '../errors.js'
import { crc32 } from './crc32.js'
import { decodeMessageType, encodeMessageType } from './message-type.js'
import { newTransactionId } from './transaction-id.js'

/** One attribute: a 16-bit type and its value (without padding). */
export interface StunAttribute {
  readonly type: number
  readonly value: Uint8Array
}

/** A STUN message, as built by callers and as returned by {@link decodeMessage}. */
export interface StunMessage {
  /** 12-bit method ({@link StunMethod} or any other). */
  readonly method: number
  readonly cls: StunClass
  /** 12 bytes (the 96-bit transaction id after the cookie). */
  readonly transactionId: Uint8Array
  /** In wire order. Unknown attributes are kept as they are. */
  readonly attributes: readonly StunAttribute[]
  /**
   * The 32 bits where the magic cookie goes, only for legacy RFC 3489 messages (whose
   * transaction id is these 4 bytes + `transactionId`). Undefined means the magic cookie.
   */
  readonly cookie?: number
}

/** An attribute as decoded: its value is a view into the message bytes. */
export interface DecodedAttribute extends StunAttribute {
  readonly value: Buffer
  /** Byte offset of the attribute header inside `raw` (integrity checks need it). */
  readonly offset: number
}

/** A decoded message, with the bytes it came from (integrity is verified over them). */
export interface DecodedStunMessage extends StunMessage {
  readonly transactionId: Buffer
  readonly attributes: readonly DecodedAttribute[]
  /** The whole message as received (a view, not a copy). */
  readonly raw: Buffer
  /** True when the magic cookie was absent (an RFC 3489 message; see `cookie`). */
  readonly legacy: boolean
}

/** Adds MESSAGE-INTEGRITY (HMAC-SHA1) and/or MESSAGE-INTEGRITY-SHA256 while encoding. */
export interface IntegrityOptions {
  /** The HMAC key: {@link shortTermKey} or {@link longTermKey}. */
  readonly key: Uint8Array
  /** Which attribute(s) to append; default `'sha1'` (what coturn and RFC 5389 peers expect). */
  readonly algorithm?: 'sha1' | 'sha256' | 'both'
}

export interface EncodeOptions {
  readonly integrity?: IntegrityOptions
  /** Append FINGERPRINT (last). */
  readonly fingerprint?: boolean
  /** Byte used to pad attribute values to 4 bytes; 0 by default (RFC 5769 samples use 0x20). */
  readonly padByte?: number
}

export interface DecodeOptions {
  /** Accept messages without the magic cookie (RFC 3489); they come back with `legacy: true`. */
  readonly allowLegacy?: boolean
  /** Check FINGERPRINT when present (default true); a mismatch throws `STUN_BAD_FINGERPRINT`. */
  readonly checkFingerprint?: boolean
  /** At most this many attributes (default 128); more throws `STUN_TOO_MANY_ATTRIBUTES`. */
  readonly maxAttributes?: number
}

/** Parameters of {@link createMessage}. */
export interface CreateMessageInit {
  readonly method: number
  readonly cls: StunClass
  /** Default: a fresh CSPRNG id. */
  readonly transactionId?: Uint8Array
  readonly attributes?: readonly StunAttribute[]
  readonly cookie?: number
}

const MI_SHA1_SIZE = 20
const MI_SHA256_SIZE = 32

/** Builds a message object (fresh random transaction id unless one is given). */
export function createMessage(init: CreateMessageInit): StunMessage {
  return {
    method: init.method,
    cls: init.cls,
    transactionId: init.transactionId ?? newTransactionId(),
    attributes: init.attributes ?? [],
    ...(init.cookie === undefined ? {} : { cookie: init.cookie }),
  }
}

function padded(n: number): number {
  return (n + 3) & ~3
}

/**
 * Encodes a message, optionally appending MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, in that
 * order, as RFC 8489 §14.5–14.7 requires. Any method, class and attribute type may be used.
 * Throws `STUN_BAD_INPUT` / `STUN_TOO_LARGE` for values that cannot be encoded.
 */
export function encodeMessage(msg: StunMessage, opts: EncodeOptions = {}): Buffer {
  if (!Number.isInteger(msg.method) || msg.method < 0 || msg.method > 0xfff) {
    throw new StunError('STUN_BAD_INPUT', `method out of range: ${msg.method}`)
  }
  if (msg.transactionId.length !== TRANSACTION_ID_LENGTH) {
    throw new StunError('STUN_BAD_INPUT', 'a transaction id has 12 bytes')
  }
  let bodyLength = 0
  for (const a of msg.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0xffff) {
      throw new StunError('STUN_BAD_INPUT', `attribute type out of range: ${a.type}`)
    }
    if (a.value.length > 0xffff) {
      throw new StunError('STUN_TOO_LARGE', `attribute 0x${a.type.toString(16)} is too long`)
    }
    bodyLength += 4 + padded(a.value.length)
  }
  const algorithm = opts.integrity ? (opts.integrity.algorithm ?? 'sha1') : undefined
  const withSha1 = algorithm === 'sha1' || algorithm === 'both'
  const withSha256 = algorithm === 'sha256' || algorithm === 'both'
  const total =
    HEADER_LENGTH +
    bodyLength +
    (withSha1 ? 4 + MI_SHA1_SIZE : 0) +
    (withSha256 ? 4 + MI_SHA256_SIZE : 0) +
    (opts.fingerprint ? 8 : 0)
  if (total - HEADER_LENGTH > 0xffff) {
    throw new StunError('STUN_TOO_LARGE', `message body of ${total - HEADER_LENGTH} bytes`)
  }

  const buf = Buffer.allocUnsafe(total)
  buf.writeUInt16BE(encodeMessageType(msg.method, msg.cls), 0)
  buf.writeUInt32BE((msg.cookie ?? MAGIC_COOKIE) >>> 0, 4)
  buf.set(msg.transactionId, 8)
  const padByte = opts.padByte ?? 0
  let off = HEADER_LENGTH
  for (const a of msg.attributes) {
    buf.writeUInt16BE(a.type, off)
    buf.writeUInt16BE(a.value.length, off + 2)
    buf.set(a.value, off + 4)
    const end = off + 4 + padded(a.value.length)
    buf.fill(padByte, off + 4 + a.value.length, end)
    off = end
  }
  if (withSha1 && opts.integrity) {
    off = appendIntegrity(buf, off, 'sha1', opts.integrity.key)
  }
  if (withSha256 && opts.integrity) {
    off = appendIntegrity(buf, off, 'sha256', opts.integrity.key)
  }
  if (opts.fingerprint) {
    buf.writeUInt16BE(total - HEADER_LENGTH, 2)
    const fp = (crc32(buf.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0
    buf.writeUInt16BE(AttrType.Fingerprint, off)
    buf.writeUInt16BE(4, off + 2)
    buf.writeUInt32BE(fp, off + 4)
    off += 8
  }
  buf.writeUInt16BE(total - HEADER_LENGTH, 2)
  return buf
}

/** Writes an integrity attribute at `off`: the length field first covers it, as the RFC says. */
function appendIntegrity(
  buf: Buffer,
  off: number,
  hash: 'sha1' | 'sha256',
  key: Uint8Array,
): number {
  const size = hash === 'sha1' ? MI_SHA1_SIZE : MI_SHA256_SIZE
  buf.writeUInt16BE(off + 4 + size - HEADER_LENGTH, 2)
  const mac = createHmac(hash, key).update(buf.subarray(0, off)).digest()
  buf.writeUInt16BE(
    hash === 'sha1' ? AttrType.MessageIntegrity : AttrType.MessageIntegritySha256,
    off,
  )
  buf.writeUInt16BE(size, off + 2)
  buf.set(mac, off + 4)
  return off + 4 + size
}

/** True when `input` starts like a STUN message with the magic cookie (cheap demultiplexing). */
export function isStunMessage(input: Uint8Array): boolean {
  return (
    input.length >= HEADER_LENGTH &&
    ((input[0] ?? 0xff) & 0xc0) === 0 &&
    input[4] === 0x21 &&
    input[5] === 0x12 &&
    input[6] === 0xa4 &&
    input[7] === 0x42
  )
}

/**
 * Decodes one whole STUN message (a datagram, or a frame from {@link StunFramer}). Checks the
 * header, that the length matches the input, attribute bounds and padding, the position of
 * MESSAGE-INTEGRITY and FINGERPRINT, and FINGERPRINT itself. Attributes after
 * MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are dropped, as
 * RFC 8489 §14.5 says to ignore them. Throws only {@link StunError}.
 */
export function decodeMessage(input: Uint8Array, opts: DecodeOptions = {}): DecodedStunMessage {
  const raw = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  if (raw.length < HEADER_LENGTH) {
    throw new StunError('STUN_TRUNCATED', `${raw.length} bytes is shorter than a STUN header`)
  }
  const type = raw.readUInt16BE(0)
  if (type & 0xc000) throw new StunError('STUN_NOT_STUN', 'the first two bits are not zero')
  const length = raw.readUInt16BE(2)
  if (length % 4 !== 0) {
    throw new StunError('STUN_BAD_LENGTH', `message length ${length} is not a multiple of 4`)
  }
  if (HEADER_LENGTH + length > raw.length) {
    throw new StunError('STUN_TRUNCATED', `message says ${length} bytes, has fewer`)
  }
  if (HEADER_LENGTH + length < raw.length) {
    throw new StunError('STUN_BAD_LENGTH', `message says ${length} bytes, has more`)
  }
  const cookie = raw.readUInt32BE(4)
  const legacy = cookie !== MAGIC_COOKIE
  if (legacy && !opts.allowLegacy) {
    throw new StunError('STUN_BAD_COOKIE', `no magic cookie (0x${cookie.toString(16)})`)
  }
  const maxAttributes = opts.maxAttributes ?? 128
  const attributes: DecodedAttribute[] = []
  let off = HEADER_LENGTH
  let sawIntegrity = false
  let count = 0
  while (off < raw.length) {
    if (raw.length - off < 4) throw new StunError('STUN_TRUNCATED', 'truncated attribute header')
    const attrType = raw.readUInt16BE(off)
    const attrLength = raw.readUInt16BE(off + 2)
    const end = off + 4 + padded(attrLength)
    if (end > raw.length) {
      throw new StunError(
        'STUN_BAD_ATTRIBUTE',
        `attribute 0x${attrType.toString(16)} of ${attrLength} bytes overruns the message`,
      )
    }
    if (++count > maxAttributes) {
      throw new StunError('STUN_TOO_MANY_ATTRIBUTES', `more than ${maxAttributes} attributes`)
    }
    const attr: DecodedAttribute = {
      type: attrType,
      value: raw.subarray(off + 4, off + 4 + attrLength),
      offset: off,
    }
    if (attrType === AttrType.Fingerprint) {
      if (end !== raw.length) {
        throw new StunError('STUN_BAD_ATTRIBUTE', 'FINGERPRINT is not the last attribute')
      }
      if (attrLength !== 4) throw new StunError('STUN_BAD_ATTRIBUTE', 'FINGERPRINT has 4 bytes')
      if (opts.checkFingerprint !== false) {
        const want = (crc32(raw.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0
        if (raw.readUInt32BE(off + 4) !== want) {
          throw new StunError('STUN_BAD_FINGERPRINT', 'FINGERPRINT does not match')
        }
      }
      attributes.push(attr)
    } else if (attrType === AttrType.MessageIntegrity) {
      if (attrLength !== MI_SHA1_SIZE) {
        throw new StunError('STUN_BAD_ATTRIBUTE', 'MESSAGE-INTEGRITY has 20 bytes')
      }
      if (!sawIntegrity) attributes.push(attr)
      sawIntegrity = true
    } else if (attrType === AttrType.MessageIntegritySha256) {
      if (attrLength < 16 || attrLength > MI_SHA256_SIZE || attrLength % 4 !== 0) {
        throw new StunError('STUN_BAD_ATTRIBUTE', 'MESSAGE-INTEGRITY-SHA256 has 16–32 bytes')
      }
      if (!attributes.some((a) => a.type === AttrType.MessageIntegritySha256)) {
        attributes.push(attr)
      }
      sawIntegrity = true
    } else if (!sawIntegrity) {
      attributes.push(attr)
    }
    off = end
  }
  const { method, cls } = decodeMessageType(type)
  return {
    method,
    cls,
    transactionId: raw.subarray(8, HEADER_LENGTH),
    attributes,
    raw,
    legacy,
    ...(legacy ? { cookie } : {}),
  }
}

/** The first attribute of `type`, or undefined. */
export function findAttribute<A extends StunAttribute>(
  msg: { readonly attributes: readonly A[] },
  type: number,
): A | undefined {
  for (const a of msg.attributes) if (a.type === type) return a
  return undefined
}
