import { abortReason, Deadline, throwIfAborted } from '@p2pd/interface'
import { readRetained, withSession } from './broker.js'
import { NameError } from './errors.js'
import { nameTopic } from './name.js'
import {
  type BrokerFailure,
  type BrokerSet,
  checkBrokers,
  DEFAULT_BROKER_TIMEOUT_MS,
} from './publish.js'
import { decodeRecord, type NameRecord } from './record.js'
import { verifyRecord } from './verify.js'

/** After the first valid record, how long slower brokers may still answer (default 1 s). */
export const DEFAULT_LINGER_MS = 1_000

/** How to look a name up. */
export interface LookupOptions extends BrokerSet {
  readonly signal?: AbortSignal
  /** Now, in ms since the epoch (default `Date.now`). */
  readonly now?: () => number
  /** Clock-skew allowance for expiry checks (default 60 s). */
  readonly skewMs?: number
  /** Once a valid record is in, wait at most this long for the other brokers (default 1 s). */
  readonly lingerMs?: number
}

/** What the brokers held for a name. */
export interface LookupResult {
  /** Every valid record found (signature, ownership and expiry checked), newest first. */
  readonly records: readonly NameRecord[]
  /** Brokers that answered (with or without a record). */
  readonly answered: readonly string[]
  /** Brokers that failed, and records refused (forged, expired, malformed). */
  readonly problems: readonly BrokerFailure[]
}

/** Newest first: higher seq, then later expiry. */
export function newestFirst(a: NameRecord, b: NameRecord): number {
  return b.seq - a.seq || b.expires - a.expires
}

/**
 * Reads the retained record of `name` from every broker at once and keeps the valid ones.
 * Returns when every broker answered, or a linger period after the first valid record, or at
 * the deadline with what came in. A broker that is down only adds a problem.
 * @throws {@link NameError} `NAME_NOT_FOUND` when every broker answered and none held a
 * valid record; `TimeoutError` when the deadline passed without one; `AbortError` when
 * `signal` aborted; `NAME_INVALID` for a malformed name.
 */
export async function lookupName(name: string, options: LookupOptions): Promise<LookupResult> {
  const topic = nameTopic(name)
  checkBrokers(options.brokers)
  throwIfAborted(options.signal)
  const deadline = new Deadline(
    options.timeoutMs ?? DEFAULT_BROKER_TIMEOUT_MS,
    options.signal,
    `resolve ${name}`,
  )
  const now = options.now ?? Date.now
  const records: NameRecord[] = []
  const answered: string[] = []
  const problems: BrokerFailure[] = []
  let linger: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve) => {
      let pending = options.brokers.length
      deadline.signal.addEventListener('abort', () => resolve(), { once: true })
      for (const url of options.brokers) {
        withSession(url, deadline.signal, options.mqttOptions, (s) =>
          readRetained(s, topic, deadline.signal),
        ).then(
          (payloads) => {
            answered.push(url)
            for (const payload of payloads) {
              try {
                const record = decodeRecord(payload)
                verifyRecord(record, { name, nowMs: now(), skewMs: options.skewMs })
                records.push(record)
              } catch (err) {
                problems.push({ url, error: (err as Error).message })
              }
            }
            if (--pending === 0) return resolve()
            if (records.length > 0 && linger === undefined) {
              linger = setTimeout(resolve, options.lingerMs ?? DEFAULT_LINGER_MS)
            }
          },
          (err: Error) => {
            if (!deadline.aborted) problems.push({ url, error: err.message })
            if (--pending === 0) resolve()
          },
        )
      }
    })
  } finally {
    clearTimeout(linger)
  }
  for (const url of options.brokers) {
    if (!answered.includes(url) && !problems.some((p) => p.url === url)) {
      problems.push({ url, error: 'no answer in time' })
    }
  }
  const timedOut = deadline.aborted
  const reason = timedOut ? abortReason(deadline.signal) : undefined
  deadline.abort() // closes the sessions still open
  throwIfAborted(options.signal)
  if (records.length === 0) {
    if (timedOut && reason) throw reason
    const why = problems.map((p) => `${p.url}: ${p.error}`).join('; ')
    throw new NameError('NAME_NOT_FOUND', `no valid record for ${name}${why ? ` (${why})` : ''}`)
  }
  return { records: records.sort(newestFirst), answered, problems }
}
