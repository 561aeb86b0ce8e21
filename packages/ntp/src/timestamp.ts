/**
 * NTP timestamps: 64 bits, 32 of seconds since 1900-01-01 and 32 of fraction. The seconds
 * wrap every 2^32 s (136 years): era 0 ends on 2036-02-07T06:28:16Z. A timestamp alone does not
 * say its era, so decoding picks the era that puts it closest to a pivot (the local clock),
 * which is right as long as the clocks are within 68 years of each other (RFC 5905 §6).
 */

/** Milliseconds from the NTP epoch (1900) to the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_MS = 2_208_988_800_000
/** Length of one NTP era in milliseconds (2^32 s). */
export const NTP_ERA_MS = 4_294_967_296_000
const FRACTION = 4_294_967_296 // 2^32

/** An NTP 64-bit timestamp split in its two 32-bit halves. */
export interface NtpTimestamp {
  /** Seconds within the era, 0 … 2^32−1. */
  readonly seconds: number
  /** Fraction of a second in units of 2^−32 s, 0 … 2^32−1. */
  readonly fraction: number
}

/** Unix milliseconds (fractions allowed) → NTP timestamp (of whichever era `ms` falls in). */
export function msToNtp(ms: number): NtpTimestamp {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite time: ${ms}`)
  let sinceEra = (ms + NTP_UNIX_OFFSET_MS) % NTP_ERA_MS
  if (sinceEra < 0) sinceEra += NTP_ERA_MS
  let seconds = Math.floor(sinceEra / 1000)
  let fraction = Math.round(((sinceEra - seconds * 1000) / 1000) * FRACTION)
  if (fraction >= FRACTION) {
    fraction -= FRACTION
    seconds += 1
  }
  if (seconds >= FRACTION) seconds -= FRACTION
  return { seconds, fraction }
}

/**
 * NTP timestamp → Unix milliseconds, in the era closest to `pivotMs` (default: now).
 * Resolution is 2^−32 s on the wire; a double near 2026 keeps about 0.25 µs of it.
 */
export function ntpToMs(ts: NtpTimestamp, pivotMs: number = Date.now()): number {
  const inEra0 = ts.seconds * 1000 + (ts.fraction * 1000) / FRACTION - NTP_UNIX_OFFSET_MS
  const era = Math.round((pivotMs - inEra0) / NTP_ERA_MS)
  return inEra0 + era * NTP_ERA_MS
}

/** True when both halves are zero, which NTP uses for "unknown". */
export function isZeroTimestamp(ts: NtpTimestamp): boolean {
  return ts.seconds === 0 && ts.fraction === 0
}

/** Reads a timestamp at `offset` of `bytes` (big-endian). */
export function readTimestamp(bytes: Uint8Array, offset: number): NtpTimestamp {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { seconds: view.getUint32(offset), fraction: view.getUint32(offset + 4) }
}

/** Writes a timestamp at `offset` of `bytes` (big-endian). */
export function writeTimestamp(bytes: Uint8Array, offset: number, ts: NtpTimestamp): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  view.setUint32(offset, ts.seconds)
  view.setUint32(offset + 4, ts.fraction)
}
