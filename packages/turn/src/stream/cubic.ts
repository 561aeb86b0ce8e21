/** CUBIC's scaling constant C (RFC 9438 §4.1), in packets per second³. */
const C = 0.4
/** CUBIC's multiplicative decrease β (RFC 9438 §4.6). */
export const CUBIC_BETA = 0.7
/**
 * Additive increase per window of the Reno-friendly estimate. RFC 9438 §4.3 uses
 * 3(1 − β)/(1 + β) ≈ 0.53 below the last maximum so that CUBIC is exactly as fair as Reno;
 * we use 1 (what this stream did before CUBIC), because on short, lossy paths the cubic curve
 * is too slow and 0.53 made a 5 %-loss transfer 40 % slower in our tests.
 */
const ALPHA = 1

/** What {@link Cubic.snapshot} captures, to undo a reduction that proved spurious. */
export interface CubicState {
  readonly wMax: number
  readonly epochStart: number | undefined
  readonly k: number
  readonly origin: number
  readonly renoEstimate: number
}

/**
 * CUBIC window growth (RFC 9438), in packets. After a loss the window climbs back towards the
 * size it had (`wMax`) along a cubic curve in real time, not one packet per round trip as
 * Reno does: on a 100 ms path Reno needs ~15 s to regain 150 packets, CUBIC ~2 s.
 */
export class Cubic {
  #wMax = 0
  #epochStart: number | undefined
  #k = 0
  #origin = 0
  #renoEstimate = 0

  /** The reduced window after a loss event at `cwnd` (with fast convergence, §4.7). */
  onLoss(cwnd: number): number {
    this.#wMax = cwnd < this.#wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd
    this.#epochStart = undefined
    return cwnd * CUBIC_BETA
  }

  /**
   * Congestion avoidance: the window after `acked` more segments were acknowledged at
   * `nowMs`, with `rttMs` the smoothed round trip. Never shrinks the window.
   */
  grow(cwnd: number, acked: number, nowMs: number, rttMs: number): number {
    if (this.#epochStart === undefined) {
      this.#epochStart = nowMs
      this.#renoEstimate = cwnd
      this.#origin = Math.max(cwnd, this.#wMax)
      this.#k = cwnd < this.#wMax ? Math.cbrt((this.#wMax - cwnd) / C) : 0
    }
    const t = (nowMs - this.#epochStart + rttMs) / 1000
    const cubic = this.#origin + C * (t - this.#k) ** 3
    // §4.2: aim at most 1.5 × cwnd ahead, and never below the current window.
    const target = Math.min(Math.max(cubic, cwnd), 1.5 * cwnd)
    this.#renoEstimate += (ALPHA * acked) / cwnd
    const next = cwnd + ((target - cwnd) * acked) / cwnd
    return Math.max(next, this.#renoEstimate, cwnd)
  }

  snapshot(): CubicState {
    return {
      wMax: this.#wMax,
      epochStart: this.#epochStart,
      k: this.#k,
      origin: this.#origin,
      renoEstimate: this.#renoEstimate,
    }
  }

  restore(s: CubicState): void {
    this.#wMax = s.wMax
    this.#epochStart = s.epochStart
    this.#k = s.k
    this.#origin = s.origin
    this.#renoEstimate = s.renoEstimate
  }
}
