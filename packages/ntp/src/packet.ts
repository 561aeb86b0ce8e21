import { NtpError } from './errors.js'
import { type NtpTimestamp, readTimestamp, writeTimestamp } from './timestamp.js'

/** Size of the NTP header; extension fields and MACs after it are ignored. */
export const NTP_PACKET_SIZE = 48

/** NTP association modes this package uses. */
export const NtpMode = { Client: 3, Server: 4 } as const

/** The 48-byte NTP header (RFC 5905 §7.3), decoded but not judged. */
export interface NtpPacket {
  /** Leap indicator, 0–3 (3 = clock not synchronized). */
  readonly leap: number
  /** Version number, 0–7. */
  readonly version: number
  /** Mode, 0–7 (3 client, 4 server). */
  readonly mode: number
  /** 0 = Kiss-o'-Death, 1 = primary, 2–15 secondary, 16 unsynchronized. */
  readonly stratum: number
  /** Poll interval, log2 seconds (signed). */
  readonly poll: number
  /** Precision, log2 seconds (signed). */
  readonly precision: number
  /** Round-trip delay to the reference clock, in ms. */
  readonly rootDelay: number
  /** Dispersion to the reference clock, in ms. */
  readonly rootDispersion: number
  /** Reference ID, 4 raw bytes (ASCII for stratum 0/1, an IPv4 address or hash otherwise). */
  readonly refId: Uint8Array
  readonly referenceTimestamp: NtpTimestamp
  readonly originTimestamp: NtpTimestamp
  readonly receiveTimestamp: NtpTimestamp
  readonly transmitTimestamp: NtpTimestamp
}

const ZERO: NtpTimestamp = { seconds: 0, fraction: 0 }

/** Decodes an NTP header. Throws `NtpError('NTP_MALFORMED')` when shorter than 48 bytes. */
export function decodePacket(bytes: Uint8Array): NtpPacket {
  if (bytes.byteLength < NTP_PACKET_SIZE) {
    throw new NtpError(
      'NTP_MALFORMED',
      `NTP packet too short: ${bytes.byteLength} < ${NTP_PACKET_SIZE} bytes`,
    )
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, NTP_PACKET_SIZE)
  const b0 = view.getUint8(0)
  return {
    leap: b0 >> 6,
    version: (b0 >> 3) & 0x07,
    mode: b0 & 0x07,
    stratum: view.getUint8(1),
    poll: view.getInt8(2),
    precision: view.getInt8(3),
    rootDelay: shortToMs(view.getUint32(4)),
    rootDispersion: shortToMs(view.getUint32(8)),
    refId: bytes.slice(12, 16),
    referenceTimestamp: readTimestamp(bytes, 16),
    originTimestamp: readTimestamp(bytes, 24),
    receiveTimestamp: readTimestamp(bytes, 32),
    transmitTimestamp: readTimestamp(bytes, 40),
  }
}

/** Encodes a 48-byte NTP header; missing fields are zero. */
export function encodePacket(p: Partial<NtpPacket>): Uint8Array {
  const bytes = new Uint8Array(NTP_PACKET_SIZE)
  const view = new DataView(bytes.buffer)
  view.setUint8(0, (((p.leap ?? 0) & 3) << 6) | (((p.version ?? 4) & 7) << 3) | ((p.mode ?? 0) & 7))
  view.setUint8(1, (p.stratum ?? 0) & 0xff)
  view.setInt8(2, clampInt8(p.poll ?? 0))
  view.setInt8(3, clampInt8(p.precision ?? 0))
  view.setUint32(4, msToShort(p.rootDelay ?? 0))
  view.setUint32(8, msToShort(p.rootDispersion ?? 0))
  if (p.refId) bytes.set(p.refId.subarray(0, 4), 12)
  writeTimestamp(bytes, 16, p.referenceTimestamp ?? ZERO)
  writeTimestamp(bytes, 24, p.originTimestamp ?? ZERO)
  writeTimestamp(bytes, 32, p.receiveTimestamp ?? ZERO)
  writeTimestamp(bytes, 40, p.transmitTimestamp ?? ZERO)
  return bytes
}

/** A reference ID as text: four ASCII characters, trailing NULs dropped, others escaped. */
export function refIdToString(refId: Uint8Array): string {
  let s = ''
  for (const c of refId) {
    if (c === 0) continue
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`
  }
  return s
}

/** Four ASCII characters (shorter is NUL-padded) → reference ID bytes. */
export function refIdFromString(text: string): Uint8Array {
  const out = new Uint8Array(4)
  for (let i = 0; i < 4 && i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f
  return out
}

// NTP short format: unsigned 16.16 seconds.
function shortToMs(v: number): number {
  return (v / 65_536) * 1000
}

function msToShort(ms: number): number {
  return Math.min(0xffff_ffff, Math.max(0, Math.round((ms / 1000) * 65_536)))
}

function clampInt8(v: number): number {
  return Math.max(-128, Math.min(127, Math.trunc(v)))
}
