import type { NtpSample } from './client.js'
import { NtpError } from './errors.js'

/** Our own timestamp granularity (µs timers), on top of each sample's `localError`. */
const LOCAL_PRECISION_MS = 0.01

/** What one server's samples say after the clock filter. */
export interface ServerEstimate {
  readonly server: string
  /** Offset of its lowest-delay sample. */
  readonly offset: number
  /** Delay of that sample. */
  readonly delay: number
  /**
   * Half-width λ of the interval that holds the true offset if the server tells the truth:
   * delay/2 + rootDelay/2 + rootDispersion + precisions + our local clock's anchoring error +
   * the jitter of its kept samples.
   */
  readonly bound: number
  /** RMS distance of its kept samples from the best one (ms). */
  readonly jitter: number
  /** Valid samples received from it. */
  readonly samples: number
  /** True when its interval agrees with the majority and it took part in the result. */
  readonly truechimer: boolean
}

/** The combined estimate. */
export interface Combined {
  readonly offset: number
  readonly uncertainty: number
  readonly servers: readonly ServerEstimate[]
}

/**
 * Turns samples (any number per server) into one offset and a bound on its error.
 *
 * 1. Clock filter, per server: the lower-delay half of its samples is kept and the
 *    lowest-delay one speaks for it, since a sample's error is at most half its delay.
 * 2. Selection (Marzullo): each server gives an interval [θ − λ, θ + λ]; the region covered
 *    by the most intervals wins and servers whose interval covers it are truechimers. Fewer
 *    than a strict majority throws `NTP_NO_MAJORITY`.
 * 3. Offset: median of the truechimers' offsets, clamped into that region.
 * 4. Uncertainty: min over truechimers of (|offset − θ| + λ) — sound if any one of them tells
 *    the truth — plus the RMS spread between truechimers, so disagreement always widens it.
 *    It is never below half the best delay.
 */
export function combineSamples(samples: readonly NtpSample[]): Combined {
  const byServer = new Map<string, NtpSample[]>()
  for (const s of samples) {
    const list = byServer.get(s.server)
    if (list) list.push(s)
    else byServer.set(s.server, [s])
  }
  if (byServer.size === 0) throw new NtpError('NTP_NO_SAMPLES', 'no NTP samples to combine')

  const perServer = [...byServer].map(([server, list]) => filterServer(server, list))
  const { lo, hi, count } = bestRegion(perServer)
  if (count * 2 <= perServer.length) {
    throw new NtpError(
      'NTP_NO_MAJORITY',
      `NTP servers disagree: at most ${count} of ${perServer.length} agree on the offset (` +
        perServer
          .map((s) => `${s.server} ${s.offset.toFixed(1)}±${s.bound.toFixed(1)} ms`)
          .join(', ') +
        ')',
    )
  }
  const eps = 1e-9
  const servers = perServer.map((s) => ({
    ...s,
    truechimer: s.offset - s.bound <= lo + eps && s.offset + s.bound >= hi - eps,
  }))
  const trues = servers.filter((s) => s.truechimer)
  const offset = Math.min(hi, Math.max(lo, median(trues.map((s) => s.offset))))
  const spread = Math.sqrt(trues.reduce((a, s) => a + (s.offset - offset) ** 2, 0) / trues.length)
  const bound = Math.min(...trues.map((s) => Math.abs(offset - s.offset) + s.bound))
  return { offset, uncertainty: bound + spread, servers }
}

function filterServer(
  server: string,
  list: readonly NtpSample[],
): Omit<ServerEstimate, 'truechimer'> {
  const sorted = [...list].sort((a, b) => a.delay - b.delay)
  const kept = sorted.slice(0, Math.max(1, Math.ceil(sorted.length / 2)))
  const best = kept[0] as NtpSample
  const jitter = Math.sqrt(
    kept.reduce((a, s) => a + (s.offset - best.offset) ** 2, 0) / kept.length,
  )
  const bound =
    best.delay / 2 +
    best.rootDelay / 2 +
    best.rootDispersion +
    best.precision +
    LOCAL_PRECISION_MS +
    best.localError +
    jitter
  return { server, offset: best.offset, delay: best.delay, bound, jitter, samples: list.length }
}

/** Marzullo's algorithm: the region covered by the most intervals. */
function bestRegion(servers: readonly { offset: number; bound: number }[]): {
  lo: number
  hi: number
  count: number
} {
  // Starts sort before ends at the same point, so touching intervals count as overlapping.
  const edges = servers
    .flatMap((s) => [
      { at: s.offset - s.bound, step: 1 },
      { at: s.offset + s.bound, step: -1 },
    ])
    .sort((a, b) => a.at - b.at || b.step - a.step)
  let count = 0
  let best = 0
  let lo = 0
  let hi = 0
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i] as { at: number; step: number }
    count += e.step
    if (count > best) {
      best = count
      lo = e.at
      hi = (edges[i + 1] as { at: number }).at
    }
  }
  return { lo, hi, count: best }
}

function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b)
  const mid = v.length >> 1
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2
}
