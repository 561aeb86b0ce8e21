import { P2pdError } from '@p2pd/interface'

/**
 * Stable codes of {@link NtpError}.
 *
 * Replies that an off-path attacker or a stray datagram could produce (`NTP_MALFORMED`,
 * `NTP_BAD_MODE`, `NTP_BAD_VERSION`, `NTP_ORIGIN_MISMATCH`, `NTP_SOURCE_MISMATCH`) are discarded
 * by the client, which keeps waiting for the real reply; the others come from the server we
 * asked and fail the query at once.
 */
export type NtpErrorCode =
  /** Shorter than the 48-byte NTP header. */
  | 'NTP_MALFORMED'
  /** Not a server-mode (4) reply. */
  | 'NTP_BAD_MODE'
  /** Version number outside 1–4. */
  | 'NTP_BAD_VERSION'
  /** The origin timestamp does not echo our transmit timestamp: stale or spoofed. */
  | 'NTP_ORIGIN_MISMATCH'
  /** The reply came from another address or port than the one we asked. */
  | 'NTP_SOURCE_MISMATCH'
  /** Stratum 0: a Kiss-o'-Death packet (see {@link KissOfDeathError}). */
  | 'NTP_KISS_OF_DEATH'
  /** Leap indicator 3: the server's clock is not synchronized. */
  | 'NTP_UNSYNCHRONIZED'
  /** Stratum outside 1–15. */
  | 'NTP_BAD_STRATUM'
  /** Transmit timestamp 0: the server did not say when it answered. */
  | 'NTP_ZERO_TRANSMIT'
  /** Receive timestamp 0, or transmitted before received. */
  | 'NTP_BAD_TIMESTAMP'
  /** Root delay/2 + root dispersion ≥ 16 s (RFC 5905 MAXDISP): the server knows it is lost. */
  | 'NTP_BAD_ROOT'
  /** Only discarded replies arrived before the deadline (`cause`: the last reason). */
  | 'NTP_NO_VALID_REPLY'
  /** Socket or DNS failure. */
  | 'NTP_NETWORK'
  /** A server specification could not be parsed. */
  | 'NTP_BAD_SERVER'
  /** No server produced a usable sample. */
  | 'NTP_NO_SAMPLES'
  /** The servers disagree and no majority agrees on an interval. */
  | 'NTP_NO_MAJORITY'
  /** The server is barred by an earlier DENY/RSTR kiss, or still backing off after RATE. */
  | 'NTP_SERVER_BARRED'
  /** The clock has not synchronized before the deadline of `ready()`. */
  | 'NTP_NOT_SYNCED'

/** Every error `@p2pd/ntp` throws on purpose (besides `TimeoutError`/`AbortError`). */
export class NtpError extends P2pdError {
  declare readonly code: NtpErrorCode

  constructor(code: NtpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/**
 * A Kiss-o'-Death reply (stratum 0). `kissCode` is the four ASCII characters of the reference
 * ID: `RATE` (slow down), `DENY`/`RSTR` (stop using this server), or another code.
 */
export class KissOfDeathError extends NtpError {
  readonly kissCode: string

  constructor(kissCode: string, server?: string) {
    super('NTP_KISS_OF_DEATH', `Kiss-o'-Death '${kissCode}'${server ? ` from ${server}` : ''}`)
    this.kissCode = kissCode
  }
}

/** Codes of replies that are dropped while the client keeps waiting for the genuine one. */
export const DISCARDED_REPLY_CODES: ReadonlySet<NtpErrorCode> = new Set<NtpErrorCode>([
  'NTP_MALFORMED',
  'NTP_BAD_MODE',
  'NTP_BAD_VERSION',
  'NTP_ORIGIN_MISMATCH',
  'NTP_SOURCE_MISMATCH',
])
