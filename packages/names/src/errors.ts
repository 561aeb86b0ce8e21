import { P2pdError } from '@p2pd/interface'

/** Why a name, a name record or a name operation was refused. */
export type NameErrorCode =
  /** Not `<label>.<fingerprint>`: bad label, bad fingerprint, wrong shape. */
  | 'NAME_INVALID'
  /** A record's bytes are not a well-formed record (size, version, field, trailing bytes). */
  | 'NAME_RECORD_MALFORMED'
  /** The record's signature does not verify for its key. */
  | 'NAME_RECORD_SIGNATURE'
  /** The record's key does not own the name (fingerprint mismatch) or its address. */
  | 'NAME_RECORD_KEY'
  /** The record is for another name than the one asked for. */
  | 'NAME_RECORD_OTHER_NAME'
  /** The record expired (beyond the clock-skew allowance) or expires implausibly late. */
  | 'NAME_RECORD_EXPIRED'
  /** Every valid record found is older than one already seen for this name (a replay). */
  | 'NAME_REPLAYED'
  /** Every broker answered and none holds a valid record for the name. */
  | 'NAME_NOT_FOUND'
  /** No broker accepted the record. */
  | 'NAME_PUBLISH_FAILED'
  /** A bad option (no brokers, bad TTL, …). */
  | 'NAME_OPTIONS'

/** Errors of `@p2pd/names`; `code` starts with `NAME_`. */
export class NameError extends P2pdError {
  declare readonly code: NameErrorCode

  constructor(code: NameErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
