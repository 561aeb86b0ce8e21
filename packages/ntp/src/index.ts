/**
 * @packageDocumentation
 * SNTP for p2pd: a validating client ({@link querySntp}), a multi-server offset measurement
 * with an error bound ({@link measureOffset}), a skew-corrected monotonic {@link NtpClock} that
 * implements the `Clock` contract of `@p2pd/interface`, and a small {@link SntpServer}.
 *
 * @example
 * ```ts
 * import { NtpClock } from '@p2pd/ntp'
 *
 * const clock = new NtpClock({ servers: ['time.example.net', 'ntp.example.org:123'] })
 * await clock.ready() // first sync; refreshes every 10 min in the background
 * console.log(new Date(clock.now()).toISOString(), `±${clock.uncertainty.toFixed(1)} ms`)
 * clock.stop()
 * ```
 */

export { DEFAULT_QUERY_TIMEOUT_MS, type NtpSample, type QueryOptions, querySntp } from './client.js'
export { NtpClock, type NtpClockEvent, type NtpClockOptions } from './clock.js'
export { KissOfDeathError, NtpError, type NtpErrorCode } from './errors.js'
export { type Combined, combineSamples, type ServerEstimate } from './estimate.js'
export { KissTracker, type KissTrackerOptions } from './kiss.js'
export { localNow, localNowError, systemMinusMonotonic } from './local-clock.js'
export {
  type MeasureOptions,
  measureOffset,
  type OffsetEstimate,
  type ServerReport,
} from './measure.js'
export {
  decodePacket,
  encodePacket,
  NTP_PACKET_SIZE,
  NtpMode,
  type NtpPacket,
  refIdFromString,
  refIdToString,
} from './packet.js'
export { type NtpMeasurement, parseReply, type ReplyContext } from './reply.js'
export { SntpServer, type SntpServerOptions } from './server.js'
export { NTP_PORT, type NtpServerAddress, type NtpServerSpec, parseServer } from './server-spec.js'
export {
  isZeroTimestamp,
  msToNtp,
  NTP_ERA_MS,
  NTP_UNIX_OFFSET_MS,
  type NtpTimestamp,
  ntpToMs,
} from './timestamp.js'
