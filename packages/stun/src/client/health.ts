/** What a pool knows about one server. */
export interface ServerHealth {
  /** The server as it was given (`host:port`, IP…). */
  readonly server: string
  readonly successes: number
  readonly failures: number
  readonly consecutiveFailures: number
  /** Smoothed round-trip time (ms), undefined before the first success. */
  readonly srttMs: number | undefined
  /** Until this time (ms since epoch) the server is skipped while others remain. */
  readonly backoffUntil: number
  /** Higher is better; see {@link healthScore}. */
  readonly score: number
}

/**
 * Score of a server: the Laplace-smoothed success rate divided by a latency factor, so an
 * unknown server (0.5 / 1.2) ranks below a proven fast one and above a failing one.
 */
export function healthScore(h: {
  successes: number
  failures: number
  srttMs: number | undefined
}): number {
  const rate = (h.successes + 1) / (h.successes + h.failures + 2)
  return rate / (1 + (h.srttMs ?? 200) / 1000)
}

const MAX_BACKOFF_MS = 60_000

/** Mutable health records with EWMA latency and exponential back-off after failures. */
export class HealthTable {
  readonly #byServer = new Map<string, ServerHealth>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  get(server: string): ServerHealth {
    return (
      this.#byServer.get(server) ?? {
        server,
        successes: 0,
        failures: 0,
        consecutiveFailures: 0,
        srttMs: undefined,
        backoffUntil: 0,
        score: healthScore({ successes: 0, failures: 0, srttMs: undefined }),
      }
    )
  }

  success(server: string, rttMs: number): void {
    const h = this.get(server)
    const srttMs = h.srttMs === undefined ? rttMs : 0.875 * h.srttMs + 0.125 * rttMs
    const next = {
      ...h,
      successes: h.successes + 1,
      consecutiveFailures: 0,
      srttMs,
      backoffUntil: 0,
    }
    this.#byServer.set(server, { ...next, score: healthScore(next) })
  }

  failure(server: string): void {
    const h = this.get(server)
    const consecutiveFailures = h.consecutiveFailures + 1
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (consecutiveFailures - 1))
    const next = {
      ...h,
      failures: h.failures + 1,
      consecutiveFailures,
      backoffUntil: this.#now() + backoff,
    }
    this.#byServer.set(server, { ...next, score: healthScore(next) })
  }

  /** Servers best first: those not backing off, by score; then those backing off. */
  rank(servers: readonly string[]): string[] {
    const now = this.#now()
    return [...servers].sort((a, b) => {
      const ha = this.get(a)
      const hb = this.get(b)
      const wa = ha.backoffUntil > now ? 1 : 0
      const wb = hb.backoffUntil > now ? 1 : 0
      return wa - wb || hb.score - ha.score
    })
  }
}
