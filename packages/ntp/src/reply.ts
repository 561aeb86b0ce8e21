import { KissOfDeathError, NtpError } from './errors.js'
import { decodePacket, NtpMode, refIdToString } from './packet.js'
import { isZeroTimestamp, type NtpTimestamp, ntpToMs } from './timestamp.js'

/** RFC 5905 MAXDISP: a server whose root distance reaches 16 s does not know the time. */
const MAX_ROOT_DISTANCE_MS = 16_000

/** What the client knows when a reply arrives. */
export interface ReplyContext {
  /** The transmit timestamp we sent; a genuine reply echoes it as its origin timestamp. */
  readonly origin: NtpTimestamp
  /** Local time the request left (ms since the Unix epoch). */
  readonly t0: number
  /** Local time the reply arrived. */
  readonly t3: number
  /** Named in errors. */
  readonly server?: string
}

/** One SNTP measurement: the four timestamps and what follows from them. */
export interface NtpMeasurement {
  /** Server clock − local clock, ms: θ = ((t1 − t0) + (t2 − t3)) / 2. */
  readonly offset: number
  /** Round-trip network delay, ms: δ = (t3 − t0) − (t2 − t1), never below 0. */
  readonly delay: number
  readonly stratum: number
  readonly leap: number
  /** Reference ID as text (ASCII, or escaped bytes). */
  readonly refId: string
  readonly rootDelay: number
  readonly rootDispersion: number
  /** Server precision in ms (2^precision s). */
  readonly precision: number
  readonly t0: number
  readonly t1: number
  readonly t2: number
  readonly t3: number
}

/**
 * Judges a reply datagram and turns it into a measurement, or throws an {@link NtpError}
 * (never anything else) saying why not. Checks, in order: size, mode 4, version 1–4, origin
 * echo, Kiss-o'-Death (stratum 0), leap ≠ 3, stratum ≤ 15, non-zero transmit/receive
 * timestamps with transmit ≥ receive, and root distance < 16 s.
 */
export function parseReply(bytes: Uint8Array, ctx: ReplyContext): NtpMeasurement {
  const p = decodePacket(bytes)
  const from = ctx.server ? ` from ${ctx.server}` : ''
  if (p.mode !== NtpMode.Server) {
    throw new NtpError('NTP_BAD_MODE', `NTP reply${from} has mode ${p.mode}, expected 4`)
  }
  if (p.version < 1 || p.version > 4) {
    throw new NtpError('NTP_BAD_VERSION', `NTP reply${from} has version ${p.version}`)
  }
  // The check that makes blind spoofing hard: only someone who saw our request knows this value.
  if (
    p.originTimestamp.seconds !== ctx.origin.seconds ||
    p.originTimestamp.fraction !== ctx.origin.fraction
  ) {
    throw new NtpError(
      'NTP_ORIGIN_MISMATCH',
      `NTP reply${from} does not echo our transmit timestamp (stale or spoofed)`,
    )
  }
  if (p.stratum === 0) throw new KissOfDeathError(refIdToString(p.refId), ctx.server)
  if (p.leap === 3) {
    throw new NtpError('NTP_UNSYNCHRONIZED', `NTP reply${from} says: not synchronized (leap 3)`)
  }
  if (p.stratum > 15) {
    throw new NtpError('NTP_BAD_STRATUM', `NTP reply${from} has stratum ${p.stratum}`)
  }
  if (isZeroTimestamp(p.transmitTimestamp)) {
    throw new NtpError('NTP_ZERO_TRANSMIT', `NTP reply${from} has a zero transmit timestamp`)
  }
  if (isZeroTimestamp(p.receiveTimestamp)) {
    throw new NtpError('NTP_BAD_TIMESTAMP', `NTP reply${from} has a zero receive timestamp`)
  }
  if (p.rootDelay / 2 + p.rootDispersion >= MAX_ROOT_DISTANCE_MS) {
    throw new NtpError('NTP_BAD_ROOT', `NTP reply${from} has a root distance ≥ 16 s`)
  }
  const { t0, t3 } = ctx
  const t1 = ntpToMs(p.receiveTimestamp, t0)
  const t2 = ntpToMs(p.transmitTimestamp, t1)
  if (t2 < t1) {
    throw new NtpError(
      'NTP_BAD_TIMESTAMP',
      `NTP reply${from} was transmitted before it was received`,
    )
  }
  return {
    offset: (t1 - t0 + (t2 - t3)) / 2,
    delay: Math.max(0, t3 - t0 - (t2 - t1)),
    stratum: p.stratum,
    leap: p.leap,
    refId: refIdToString(p.refId),
    rootDelay: p.rootDelay,
    rootDispersion: p.rootDispersion,
    precision: 2 ** p.precision * 1000,
    t0,
    t1,
    t2,
    t3,
  }
}
