import { StreamError } from '../errors.js'

/**
 * Wire format of the reliable stream. Every packet starts with the same 10-byte header:
 *
 * ```
 * 0      1      2              6              10
 * | v|t  | flags| conv (u32)   | ts (u32, ms) | type-specific …
 * ```
 *
 * - `v|t`: version (high nibble, {@link STREAM_VERSION}) and type (low nibble).
 * - `conv`: the conversation id both peers agreed on over signaling; other ones are ignored.
 * - `ts`: the sender's clock in ms (mod 2^32), echoed by ACKs for RTT samples.
 *
 * DATA: `seq (u32) ‖ payload` (flag FIN: the last segment, empty payload).
 * ACK: `cumAck (u32) ‖ window (u32, packets) ‖ echoTs (u32) ‖ n (u8) ‖ n × (start, end) (u32)`:
 * every `seq < cumAck` arrived, and the half-open ranges `[start, end)` above it (selective
 * acks). Flag ECHO: `echoTs` is valid; flag PROBE: the sender wants an ACK back right away.
 * RST: `reason (u8)`; the stream is dead.
 * PROBE: any padding; asks whether a datagram of its size reaches the peer.
 * PROBE_ACK: `size (u32)`: a PROBE of that many bytes arrived. (A peer that predates the
 * probes drops them as unknown types, and the sender keeps its segment size.)
 */
export const STREAM_VERSION = 1
export const HEADER_BYTES = 10
export const DATA_HEADER_BYTES = HEADER_BYTES + 4
export const ACK_FIXED_BYTES = HEADER_BYTES + 13
/** At most this many SACK ranges per ACK. */
export const MAX_SACK_RANGES = 32

export const PacketType = { Data: 1, Ack: 2, Rst: 3, Probe: 4, ProbeAck: 5 } as const
export type PacketType = (typeof PacketType)[keyof typeof PacketType]

export const DataFlag = { Fin: 0x01 } as const
export const AckFlag = { Echo: 0x01, Probe: 0x02 } as const

export const RstReason = { Closed: 0, Error: 1, IdleTimeout: 2, DeadLink: 3 } as const
export type RstReason = (typeof RstReason)[keyof typeof RstReason]

export interface DataPacket {
  readonly type: typeof PacketType.Data
  readonly conv: number
  readonly ts: number
  readonly seq: number
  readonly fin: boolean
  readonly payload: Buffer
}

/** A half-open range `[start, end)` of received sequence numbers. */
export interface SackRange {
  readonly start: number
  readonly end: number
}

export interface AckPacket {
  readonly type: typeof PacketType.Ack
  readonly conv: number
  readonly ts: number
  readonly cumAck: number
  /** Free receive window, in packets. */
  readonly window: number
  /** The `ts` of the packet this ACK answers, when it answers one. */
  readonly echoTs: number | undefined
  readonly probe: boolean
  readonly ranges: readonly SackRange[]
}

export interface RstPacket {
  readonly type: typeof PacketType.Rst
  readonly conv: number
  readonly ts: number
  readonly reason: number
}

/** A path-MTU probe: `size` is the datagram's length. */
export interface ProbePacket {
  readonly type: typeof PacketType.Probe
  readonly conv: number
  readonly ts: number
  readonly size: number
}

export interface ProbeAckPacket {
  readonly type: typeof PacketType.ProbeAck
  readonly conv: number
  readonly ts: number
  /** Length of the probe that arrived. */
  readonly size: number
}

export type Packet = DataPacket | AckPacket | RstPacket | ProbePacket | ProbeAckPacket

function header(buf: Buffer, type: PacketType, flags: number, conv: number, ts: number): void {
  buf[0] = (STREAM_VERSION << 4) | type
  buf[1] = flags
  buf.writeUInt32BE(conv >>> 0, 2)
  buf.writeUInt32BE(ts >>> 0, 6)
}

export function encodeData(
  conv: number,
  ts: number,
  seq: number,
  payload: Uint8Array,
  fin = false,
): Buffer {
  const buf = Buffer.allocUnsafe(DATA_HEADER_BYTES + payload.length)
  header(buf, PacketType.Data, fin ? DataFlag.Fin : 0, conv, ts)
  buf.writeUInt32BE(seq >>> 0, HEADER_BYTES)
  buf.set(payload, DATA_HEADER_BYTES)
  return buf
}

export function encodeAck(a: Omit<AckPacket, 'type'>): Buffer {
  const n = Math.min(a.ranges.length, MAX_SACK_RANGES)
  const buf = Buffer.allocUnsafe(ACK_FIXED_BYTES + n * 8)
  const flags = (a.echoTs !== undefined ? AckFlag.Echo : 0) | (a.probe ? AckFlag.Probe : 0)
  header(buf, PacketType.Ack, flags, a.conv, a.ts)
  buf.writeUInt32BE(a.cumAck >>> 0, HEADER_BYTES)
  buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(a.window))), HEADER_BYTES + 4)
  buf.writeUInt32BE((a.echoTs ?? 0) >>> 0, HEADER_BYTES + 8)
  buf[HEADER_BYTES + 12] = n
  for (let i = 0; i < n; i++) {
    const r = a.ranges[i] as SackRange
    buf.writeUInt32BE(r.start >>> 0, ACK_FIXED_BYTES + i * 8)
    buf.writeUInt32BE(r.end >>> 0, ACK_FIXED_BYTES + i * 8 + 4)
  }
  return buf
}

export function encodeRst(conv: number, ts: number, reason: RstReason): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 1)
  header(buf, PacketType.Rst, 0, conv, ts)
  buf[HEADER_BYTES] = reason
  return buf
}

/** A probe datagram of exactly `size` bytes (at least a header; the padding is zeros). */
export function encodeProbe(conv: number, ts: number, size: number): Buffer {
  const buf = Buffer.alloc(Math.max(HEADER_BYTES, size))
  header(buf, PacketType.Probe, 0, conv, ts)
  return buf
}

export function encodeProbeAck(conv: number, ts: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 4)
  header(buf, PacketType.ProbeAck, 0, conv, ts)
  buf.writeUInt32BE(size >>> 0, HEADER_BYTES)
  return buf
}

/**
 * Decodes one datagram. Throws only {@link StreamError} (`STREAM_TRUNCATED`,
 * `STREAM_BAD_VERSION`, `STREAM_BAD_TYPE`, `STREAM_BAD_PACKET`); never allocates more than the
 * input (DATA payloads are views into it).
 */
export function decodePacket(input: Uint8Array): Packet {
  const buf = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  if (buf.length < HEADER_BYTES) {
    throw new StreamError('STREAM_TRUNCATED', `${buf.length} bytes is shorter than a header`)
  }
  const vt = buf[0] as number
  if (vt >> 4 !== STREAM_VERSION) {
    throw new StreamError('STREAM_BAD_VERSION', `unknown stream version ${vt >> 4}`)
  }
  const flags = buf[1] as number
  const conv = buf.readUInt32BE(2)
  const ts = buf.readUInt32BE(6)
  switch (vt & 0x0f) {
    case PacketType.Data: {
      if (buf.length < DATA_HEADER_BYTES) {
        throw new StreamError('STREAM_TRUNCATED', 'DATA without a sequence number')
      }
      if (flags & ~DataFlag.Fin) throw new StreamError('STREAM_BAD_PACKET', 'unknown DATA flags')
      const fin = (flags & DataFlag.Fin) !== 0
      if (fin && buf.length !== DATA_HEADER_BYTES) {
        throw new StreamError('STREAM_BAD_PACKET', 'FIN carries no payload')
      }
      return {
        type: PacketType.Data,
        conv,
        ts,
        seq: buf.readUInt32BE(HEADER_BYTES),
        fin,
        payload: buf.subarray(DATA_HEADER_BYTES),
      }
    }
    case PacketType.Ack: {
      if (buf.length < ACK_FIXED_BYTES) throw new StreamError('STREAM_TRUNCATED', 'short ACK')
      if (flags & ~(AckFlag.Echo | AckFlag.Probe)) {
        throw new StreamError('STREAM_BAD_PACKET', 'unknown ACK flags')
      }
      const n = buf[HEADER_BYTES + 12] as number
      if (n > MAX_SACK_RANGES) {
        throw new StreamError('STREAM_BAD_PACKET', `${n} SACK ranges (max ${MAX_SACK_RANGES})`)
      }
      if (buf.length < ACK_FIXED_BYTES + n * 8) {
        throw new StreamError('STREAM_TRUNCATED', 'ACK shorter than its SACK ranges')
      }
      if (buf.length > ACK_FIXED_BYTES + n * 8) {
        throw new StreamError('STREAM_BAD_PACKET', 'bytes after the SACK ranges')
      }
      const cumAck = buf.readUInt32BE(HEADER_BYTES)
      const ranges: SackRange[] = []
      for (let i = 0; i < n; i++) {
        const start = buf.readUInt32BE(ACK_FIXED_BYTES + i * 8)
        const end = buf.readUInt32BE(ACK_FIXED_BYTES + i * 8 + 4)
        // Each range must be non-empty, above cumAck and within 2^31 of it.
        const len = (end - start) | 0
        const above = (start - cumAck) | 0
        if (len <= 0 || above <= 0 || ((end - cumAck) | 0) <= 0) {
          throw new StreamError('STREAM_BAD_PACKET', 'SACK range out of order or empty')
        }
        ranges.push({ start, end })
      }
      return {
        type: PacketType.Ack,
        conv,
        ts,
        cumAck,
        window: buf.readUInt32BE(HEADER_BYTES + 4),
        echoTs: flags & AckFlag.Echo ? buf.readUInt32BE(HEADER_BYTES + 8) : undefined,
        probe: (flags & AckFlag.Probe) !== 0,
        ranges,
      }
    }
    case PacketType.Rst:
      if (buf.length !== HEADER_BYTES + 1) {
        throw new StreamError('STREAM_BAD_PACKET', 'RST has exactly one reason byte')
      }
      return { type: PacketType.Rst, conv, ts, reason: buf[HEADER_BYTES] as number }
    case PacketType.Probe:
      if (flags !== 0) throw new StreamError('STREAM_BAD_PACKET', 'unknown PROBE flags')
      return { type: PacketType.Probe, conv, ts, size: buf.length }
    case PacketType.ProbeAck:
      if (flags !== 0 || buf.length !== HEADER_BYTES + 4) {
        throw new StreamError('STREAM_BAD_PACKET', 'PROBE_ACK carries exactly a size')
      }
      return { type: PacketType.ProbeAck, conv, ts, size: buf.readUInt32BE(HEADER_BYTES) }
    default:
      throw new StreamError('STREAM_BAD_TYPE', `unknown packet type ${vt & 0x0f}`)
  }
}
