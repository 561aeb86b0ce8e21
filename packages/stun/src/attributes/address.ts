import type { Endpoint } from '@p2pd/interface'
import { MAGIC_COOKIE, TRANSACTION_ID_LENGTH } from '../constants.js'
import { StunError } from '../errors.js'
import { bytesToIp, ipFamily, ipToBytes } from '../ip.js'

/** A transport address as STUN carries it. `host` is an IP literal. */
export interface StunAddress extends Endpoint {
  readonly family: 4 | 6
}

const FAMILY_V4 = 0x01
const FAMILY_V6 = 0x02

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new StunError('STUN_BAD_INPUT', `port out of range: ${port}`)
  }
}

/** Value of MAPPED-ADDRESS / OTHER-ADDRESS / RESPONSE-ORIGIN / CHANGED-ADDRESS and friends. */
export function encodeAddress(addr: Endpoint): Buffer {
  checkPort(addr.port)
  const ip = ipToBytes(addr.host)
  const out = Buffer.alloc(4 + ip.length)
  out[1] = ip.length === 4 ? FAMILY_V4 : FAMILY_V6
  out.writeUInt16BE(addr.port, 2)
  out.set(ip, 4)
  return out
}

/** Parses a plain address value; throws `STUN_BAD_ATTRIBUTE` when malformed. */
export function decodeAddress(value: Uint8Array): StunAddress {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const family = v.length >= 2 ? v[1] : undefined
  if (family === FAMILY_V4 && v.length === 8) {
    return { family: 4, host: bytesToIp(v.subarray(4, 8)), port: v.readUInt16BE(2) }
  }
  if (family === FAMILY_V6 && v.length === 20) {
    return { family: 6, host: bytesToIp(v.subarray(4, 20)), port: v.readUInt16BE(2) }
  }
  throw new StunError('STUN_BAD_ATTRIBUTE', `bad address attribute (${v.length} bytes)`)
}

/** cookie ‖ transaction id: the XOR pad of XOR-*-ADDRESS values. */
function xorPad(transactionId: Uint8Array): Buffer {
  if (transactionId.length !== TRANSACTION_ID_LENGTH) {
    throw new StunError('STUN_BAD_INPUT', 'a transaction id has 12 bytes')
  }
  const pad = Buffer.allocUnsafe(16)
  pad.writeUInt32BE(MAGIC_COOKIE, 0)
  pad.set(transactionId, 4)
  return pad
}

function xorInPlace(bytes: Buffer, transactionId: Uint8Array): Buffer {
  const pad = xorPad(transactionId)
  bytes.writeUInt16BE(bytes.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16), 2)
  for (let i = 4; i < bytes.length; i++) bytes[i] = (bytes[i] as number) ^ (pad[i - 4] as number)
  return bytes
}

/**
 * Value of XOR-MAPPED-ADDRESS (and TURN's XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS). Always XORed
 * with the magic cookie, whatever cookie the message carries (P2PD used the reply's field).
 */
export function encodeXorAddress(addr: Endpoint, transactionId: Uint8Array): Buffer {
  return xorInPlace(encodeAddress(addr), transactionId)
}

/** Parses an XOR-*-ADDRESS value; throws `STUN_BAD_ATTRIBUTE` when malformed. */
export function decodeXorAddress(value: Uint8Array, transactionId: Uint8Array): StunAddress {
  decodeAddress(value) // validates the shape first
  return decodeAddress(xorInPlace(Buffer.from(value), transactionId))
}

/** True for an IP literal this codec can carry. */
export function isIpLiteral(host: string): boolean {
  return ipFamily(host) !== 0
}
