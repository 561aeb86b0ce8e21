import { verify } from '@p2pd/identity'
import { NameError } from './errors.js'
import { ownsName } from './name.js'
import {
  decodeAddressNodeId,
  type NameRecord,
  RECORD_SIGNATURE_DOMAIN,
  recordBody,
} from './record.js'

/** Longest lifetime a record may claim: 7 days. Longer ones are refused as implausible. */
export const MAX_RECORD_TTL_S = 7 * 24 * 3600

/** Clock-skew allowance when checking expiry (default 60 s). */
export const DEFAULT_CLOCK_SKEW_MS = 60_000

/** What {@link verifyRecord} checks a record against. */
export interface VerifyOptions {
  /** The name asked for: the record must be for exactly this name. */
  readonly name?: string
  /** Now, in ms since the epoch (default `Date.now()`). */
  readonly nowMs?: number
  /** Allowance for clock differences between owner and resolver (default 60 s). */
  readonly skewMs?: number
}

/**
 * Checks that `record` is valid now: for the name asked for, owned by its key (the name's
 * fingerprint is the key's), pointing at the key's own address, signed by that key, not
 * expired and not claiming more than {@link MAX_RECORD_TTL_S} of life (each bound widened by
 * the clock-skew allowance).
 * @throws {@link NameError} `NAME_RECORD_OTHER_NAME`, `NAME_RECORD_KEY`,
 * `NAME_RECORD_SIGNATURE`, `NAME_RECORD_EXPIRED` or `NAME_RECORD_MALFORMED`.
 */
export function verifyRecord(record: NameRecord, options: VerifyOptions = {}): void {
  if (options.name !== undefined && record.name !== options.name) {
    throw new NameError(
      'NAME_RECORD_OTHER_NAME',
      `a record for ${record.name}, not ${options.name}`,
    )
  }
  if (!ownsName(record.nodeId, record.name)) {
    throw new NameError('NAME_RECORD_KEY', `the record's key does not own ${record.name}`)
  }
  if (decodeAddressNodeId(record.address) !== record.nodeId) {
    throw new NameError('NAME_RECORD_KEY', 'the address belongs to another node')
  }
  if (!verify(record.nodeId, RECORD_SIGNATURE_DOMAIN, recordBody(record), record.signature)) {
    throw new NameError('NAME_RECORD_SIGNATURE', `bad signature on the record for ${record.name}`)
  }
  const now = options.nowMs ?? Date.now()
  const skew = options.skewMs ?? DEFAULT_CLOCK_SKEW_MS
  if (record.expires * 1000 + skew < now) {
    throw new NameError('NAME_RECORD_EXPIRED', `the record for ${record.name} has expired`)
  }
  if (record.expires * 1000 > now + skew + MAX_RECORD_TTL_S * 1000) {
    throw new NameError('NAME_RECORD_EXPIRED', `the record for ${record.name} expires too late`)
  }
}
