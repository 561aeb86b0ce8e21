import { abortReason } from '@p2pd/interface'
import { DEFAULT_QUERY_TIMEOUT_MS, type NtpSample, sntpQuery } from './client.js'
import { KissOfDeathError, NtpError } from './errors.js'
import { combineSamples, type ServerEstimate } from './estimate.js'
import { type Hold, operationDeadline, pause } from './hold.js'
import type { KissTracker } from './kiss.js'
import { localNow } from './local-clock.js'
import { type NtpServerAddress, type NtpServerSpec, parseServer } from './server-spec.js'

const WORTH_RETRYING: ReadonlySet<string> = new Set(['NTP_NO_VALID_REPLY', 'NTP_NETWORK'])

export interface MeasureOptions {
  signal?: AbortSignal
  /**
   * Deadline of the whole measurement. When it passes, sampling stops and the samples so far
   * are used (a `TimeoutError` only if there are none). Default: long enough for every sample.
   */
  timeoutMs?: number
  /** Samples per server, taken one after another (default 4). */
  samplesPerServer?: number
  /** Pause between two queries to the same server (default 2000 ms, like NTP's iburst). */
  spacingMs?: number
  /** Deadline of one query (default 2000 ms). */
  queryTimeoutMs?: number
  /** Kiss-o'-Death memory; pass the same one to every measurement so kisses are honoured. */
  kiss?: KissTracker
}

/** How one server fared in a measurement. */
export interface ServerReport {
  readonly server: string
  /** Valid samples it gave. */
  readonly samples: number
  /** Its filtered estimate, when it gave any sample. */
  readonly estimate?: ServerEstimate
  /** Why it gave fewer samples than asked, if it did (the last error). */
  readonly error?: Error
}

/** The result of {@link measureOffset}. */
export interface OffsetEstimate {
  /** True time − system clock, ms (add it to `Date.now()`). */
  readonly offset: number
  /** Bound on the error of `offset`, ms (at `measuredAt`; grows with drift afterwards). */
  readonly uncertainty: number
  /** Every valid sample, all servers. */
  readonly samples: readonly NtpSample[]
  readonly servers: readonly ServerReport[]
  /** Local time (ms since the Unix epoch) at the end of the measurement. */
  readonly measuredAt: number
}

/**
 * Measures this machine's clock offset against several SNTP servers: servers are asked
 * concurrently, each one a few times in sequence with polite spacing; the lowest-delay samples
 * are combined by {@link combineSamples}. A server that sends Kiss-o'-Death is dropped at once
 * (and remembered in `kiss`); one that is not synchronized is dropped for this measurement.
 *
 * @throws `NtpError` (`NTP_NO_SAMPLES`, `NTP_NO_MAJORITY`, `NTP_BAD_SERVER`), `TimeoutError`,
 * `AbortError`
 */
export function measureOffset(
  servers: readonly NtpServerSpec[],
  options: MeasureOptions = {},
): Promise<OffsetEstimate> {
  return measure(servers, options, 'hold')
}

/** {@link measureOffset}; with `'background'` its sockets and timers do not keep the process alive. */
export async function measure(
  servers: readonly NtpServerSpec[],
  options: MeasureOptions,
  hold: Hold,
): Promise<OffsetEstimate> {
  const targets = [...new Map(servers.map((s) => parseServer(s)).map((t) => [t.key, t])).values()]
  if (targets.length === 0) throw new NtpError('NTP_NO_SAMPLES', 'no NTP servers given')
  const count = Math.max(1, Math.floor(options.samplesPerServer ?? 4))
  const spacingMs = Math.max(0, options.spacingMs ?? 2000)
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
  const timeoutMs = options.timeoutMs ?? count * (spacingMs + queryTimeoutMs) + 1000
  const deadline = operationDeadline(timeoutMs, options.signal, 'NTP measurement', hold)
  try {
    return await sample(targets, count, spacingMs, queryTimeoutMs, options, deadline.signal, hold)
  } finally {
    deadline.dispose()
  }
}

async function sample(
  targets: readonly NtpServerAddress[],
  count: number,
  spacingMs: number,
  queryTimeoutMs: number,
  options: MeasureOptions,
  overall: AbortSignal,
  hold: Hold,
): Promise<OffsetEstimate> {
  const perServer = await Promise.all(
    targets.map(async (t) => {
      const samples: NtpSample[] = []
      let error: Error | undefined
      for (let i = 0; i < count && !overall.aborted; i++) {
        const barred = options.kiss?.check(t.key)
        if (barred) {
          error = barred
          break
        }
        try {
          if (i > 0) await pause(spacingMs, overall, hold)
          samples.push(await sntpQuery(t, { signal: overall, timeoutMs: queryTimeoutMs }, hold))
        } catch (err) {
          if (overall.aborted) break
          error = err as Error
          if (err instanceof KissOfDeathError) {
            options.kiss?.record(t.key, err.kissCode)
            break
          }
          // Lost or spoofed packets are worth another try; an unusable server is not.
          if (err instanceof NtpError && !WORTH_RETRYING.has(err.code)) break
        }
      }
      return { server: t.key, samples, error }
    }),
  )

  if (options.signal?.aborted) throw abortReason(options.signal)
  const samples = perServer.flatMap((s) => s.samples)
  if (samples.length === 0) {
    if (overall.aborted) throw abortReason(overall)
    const errors = perServer.map((s) => s.error).filter((e): e is Error => e !== undefined)
    throw new NtpError(
      'NTP_NO_SAMPLES',
      `no NTP server answered usefully: ${errors.map((e) => e.message).join('; ')}`,
      { cause: new AggregateError(errors) },
    )
  }
  const combined = combineSamples(samples)
  const byServer = new Map(combined.servers.map((s) => [s.server, s]))
  return {
    offset: combined.offset,
    uncertainty: combined.uncertainty,
    samples,
    servers: perServer.map((s) => ({
      server: s.server,
      samples: s.samples.length,
      ...(byServer.has(s.server) ? { estimate: byServer.get(s.server) } : {}),
      ...(s.error ? { error: s.error } : {}),
    })),
    measuredAt: localNow(),
  }
}
