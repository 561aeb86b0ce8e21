/** Parameters of {@link RttEstimator}. */
export interface RttOptions {
  /** RTO before the first sample (RFC 6298 says 1 s; default 500 ms). */
  readonly initialRtoMs?: number
  /** Lower bound of the RTO (default 200 ms, Linux's `tcp_rto_min`). */
  readonly minRtoMs?: number
  /**
   * Lower bound of the variance term: the RTO is at least SRTT + this (default 100 ms). A
   * steady path gives a tiny RTTVAR, and then one busy event-loop turn on either end would
   * look like loss (Linux floors the same term at 200 ms).
   */
  readonly rtoSlackMs?: number
  /** Upper bound of the RTO (default 10 s). */
  readonly maxRtoMs?: number
}

/** Clock granularity G of RFC 6298 (ms). */
const GRANULARITY_MS = 1

/**
 * Smoothed RTT and retransmission timeout exactly as RFC 6298 §2 computes them
 * (α = 1/8, β = 1/4, RTO = SRTT + max(G, 4·RTTVAR, slack)), clamped to [minRto, maxRto];
 * the slack floor is Linux's answer to spurious timeouts on low-jitter paths.
 * Samples come from echoed timestamps, so retransmitted segments give valid samples too.
 */
export class RttEstimator {
  readonly #minRto: number
  readonly #maxRto: number
  readonly #slack: number
  #srtt: number | undefined
  #rttvar = 0
  #rto: number

  constructor(opts: RttOptions = {}) {
    this.#minRto = opts.minRtoMs ?? 200
    this.#slack = opts.rtoSlackMs ?? 100
    this.#maxRto = opts.maxRtoMs ?? 10_000
    this.#rto = this.#clamp(opts.initialRtoMs ?? 500)
  }

  /** Smoothed RTT (ms), or undefined before the first sample. */
  get srtt(): number | undefined {
    return this.#srtt
  }

  get rttvar(): number {
    return this.#rttvar
  }

  /** Current retransmission timeout (ms). */
  get rto(): number {
    return this.#rto
  }

  /** Feeds one RTT measurement (ms). Negative or absurd samples are ignored. */
  sample(rttMs: number): void {
    if (!(rttMs >= 0) || rttMs > 60_000) return
    if (this.#srtt === undefined) {
      this.#srtt = rttMs
      this.#rttvar = rttMs / 2
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs)
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs
    }
    this.#rto = this.#clamp(this.#srtt + Math.max(GRANULARITY_MS, 4 * this.#rttvar, this.#slack))
  }

  /** RFC 6298 §5.5: after a timeout the RTO doubles (until the next sample). */
  backoff(): void {
    this.#rto = this.#clamp(this.#rto * 2)
  }

  #clamp(ms: number): number {
    return Math.min(this.#maxRto, Math.max(this.#minRto, ms))
  }
}
