import { StunError } from '../errors.js'

/** CHANGE-REQUEST flags (RFC 5780 §7.2). */
export interface ChangeRequest {
  readonly changeIp: boolean
  readonly changePort: boolean
}

const CHANGE_IP = 0x04
const CHANGE_PORT = 0x02

export function encodeChangeRequest(req: ChangeRequest): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE((req.changeIp ? CHANGE_IP : 0) | (req.changePort ? CHANGE_PORT : 0))
  return out
}

export function decodeChangeRequest(value: Uint8Array): ChangeRequest {
  if (value.length !== 4) throw new StunError('STUN_BAD_ATTRIBUTE', 'CHANGE-REQUEST has 4 bytes')
  const flags = value[3] as number
  return { changeIp: (flags & CHANGE_IP) !== 0, changePort: (flags & CHANGE_PORT) !== 0 }
}

/** ERROR-CODE value: a code 300–699 and a reason phrase. */
export interface ErrorCodeValue {
  readonly code: number
  readonly reason: string
}

/** Reason phrases and SOFTWARE/REALM/NONCE are "fewer than 128 characters" (≤ 763 bytes). */
export const MAX_TEXT_BYTES = 763
/** USERNAME is shorter than 513 bytes. */
export const MAX_USERNAME_BYTES = 512

export function encodeErrorCode(err: ErrorCodeValue): Buffer {
  if (!Number.isInteger(err.code) || err.code < 300 || err.code > 699) {
    throw new StunError('STUN_BAD_INPUT', `error code out of range: ${err.code}`)
  }
  const reason = encodeText(err.reason, MAX_TEXT_BYTES)
  const out = Buffer.alloc(4 + reason.length)
  out[2] = Math.floor(err.code / 100)
  out[3] = err.code % 100
  out.set(reason, 4)
  return out
}

export function decodeErrorCode(value: Uint8Array): ErrorCodeValue {
  if (value.length < 4) throw new StunError('STUN_BAD_ATTRIBUTE', 'ERROR-CODE is too short')
  const cls = (value[2] as number) & 0x07
  const number = value[3] as number
  if (cls < 3 || cls > 6 || number > 99) {
    throw new StunError('STUN_BAD_ATTRIBUTE', `bad ERROR-CODE ${cls}/${number}`)
  }
  return { code: cls * 100 + number, reason: decodeText(value.subarray(4), MAX_TEXT_BYTES) }
}

export function encodeUnknownAttributes(types: readonly number[]): Buffer {
  const out = Buffer.alloc(types.length * 2)
  types.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t > 0xffff) {
      throw new StunError('STUN_BAD_INPUT', `attribute type out of range: ${t}`)
    }
    out.writeUInt16BE(t, i * 2)
  })
  return out
}

export function decodeUnknownAttributes(value: Uint8Array): number[] {
  if (value.length % 2 !== 0) {
    throw new StunError('STUN_BAD_ATTRIBUTE', 'UNKNOWN-ATTRIBUTES has an odd length')
  }
  const out: number[] = []
  for (let i = 0; i < value.length; i += 2) {
    out.push(((value[i] as number) << 8) | (value[i + 1] as number))
  }
  return out
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** UTF-8 bytes of `text`, at most `maxBytes`, or `STUN_BAD_INPUT`. */
export function encodeText(text: string, maxBytes: number): Buffer {
  const out = Buffer.from(text, 'utf8')
  if (out.length > maxBytes) {
    throw new StunError('STUN_BAD_INPUT', `text of ${out.length} bytes (max ${maxBytes})`)
  }
  return out
}

/** Strict UTF-8 decode, at most `maxBytes`, or `STUN_BAD_ATTRIBUTE`. */
export function decodeText(value: Uint8Array, maxBytes: number): string {
  if (value.length > maxBytes) {
    throw new StunError('STUN_BAD_ATTRIBUTE', `text of ${value.length} bytes (max ${maxBytes})`)
  }
  try {
    return utf8.decode(value)
  } catch (cause) {
    throw new StunError('STUN_BAD_ATTRIBUTE', 'text is not valid UTF-8', { cause })
  }
}

/** RESPONSE-PORT (RFC 5780 §7.5): a port and 2 reserved bytes. */
export function encodeResponsePort(port: number): Buffer {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new StunError('STUN_BAD_INPUT', `port out of range: ${port}`)
  }
  const out = Buffer.alloc(4)
  out.writeUInt16BE(port, 0)
  return out
}

export function decodeResponsePort(value: Uint8Array): number {
  if (value.length !== 4) throw new StunError('STUN_BAD_ATTRIBUTE', 'RESPONSE-PORT has 4 bytes')
  const port = ((value[0] as number) << 8) | (value[1] as number)
  if (port === 0) throw new StunError('STUN_BAD_ATTRIBUTE', 'RESPONSE-PORT is 0')
  return port
}

/** A 32-bit unsigned value (TURN's LIFETIME, ICE's PRIORITY…). */
export function encodeUint32(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new StunError('STUN_BAD_INPUT', `not a 32-bit unsigned value: ${value}`)
  }
  const out = Buffer.alloc(4)
  out.writeUInt32BE(value)
  return out
}

export function decodeUint32(value: Uint8Array): number {
  if (value.length !== 4) throw new StunError('STUN_BAD_ATTRIBUTE', 'expected 4 bytes')
  return Buffer.from(value.buffer, value.byteOffset, 4).readUInt32BE(0)
}

/** CONNECTION-ID (RFC 6062 §6.2.1): the 32-bit id of a TCP connection to a peer. */
export function encodeConnectionId(id: number): Buffer {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new StunError('STUN_BAD_INPUT', `connection id out of range: ${id}`)
  }
  return encodeUint32(id)
}

export function decodeConnectionId(value: Uint8Array): number {
  if (value.length !== 4) throw new StunError('STUN_BAD_ATTRIBUTE', 'CONNECTION-ID has 4 bytes')
  return decodeUint32(value)
}

/**
 * REQUESTED-TRANSPORT (RFC 8656 §18.7): a protocol number (17 UDP, 6 TCP per RFC 6062) and
 * three reserved bytes.
 */
export function encodeRequestedTransport(protocol: number): Buffer {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xff) {
    throw new StunError('STUN_BAD_INPUT', `protocol number out of range: ${protocol}`)
  }
  const out = Buffer.alloc(4)
  out[0] = protocol
  return out
}

export function decodeRequestedTransport(value: Uint8Array): number {
  if (value.length !== 4) {
    throw new StunError('STUN_BAD_ATTRIBUTE', 'REQUESTED-TRANSPORT has 4 bytes')
  }
  return value[0] as number
}
