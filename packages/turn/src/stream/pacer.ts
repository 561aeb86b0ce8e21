/**
 * Pacing rate as a multiple of one window per smoothed RTT: twice in slow start (so the
 * window can still double each round), a quarter above it afterwards (so the pacing never
 * holds the window below what the path takes) — Linux paces TCP the same way.
 */
const PACE_SLOW_START = 2
const PACE_AVOIDANCE = 1.25

/**
 * Pacing: spreads a window of new segments over the round trip instead of sending it in one
 * burst whenever an ack opens it. A burst of a thousand datagrams overflows the socket
 * buffers of a relay or of a busy receiver (a 100 ms path lost hundreds of segments at a
 * time and never regained its window); paced, the queues stay short. A token bucket filled at
 * the pacing rate, at most `burstMs` of it deep. Not before the first RTT sample, nor on
 * sub-millisecond paths, where a burst is harmless and timers too coarse.
 */
export class Pacer {
  readonly #burstMs: number
  readonly #minBurst: number
  /** New segments that may leave now. */
  #tokens = 0
  #tokensAt: number | undefined

  /** `burstMs` of the pacing rate at most at once, but never fewer than `minBurst` segments. */
  constructor(burstMs: number, minBurst: number) {
    this.#burstMs = burstMs
    this.#minBurst = minBurst
  }

  /** Segments that may leave now. */
  get tokens(): number {
    return this.#tokens
  }

  /** Fills the bucket for the time since the last refill; `srtt` undefined: no pacing. */
  refill(now: number, cwnd: number, srtt: number | undefined, slowStart: boolean): void {
    if (srtt === undefined || srtt < 1) {
      this.#tokens = Number.POSITIVE_INFINITY
      this.#tokensAt = undefined
      return
    }
    const perMs = ((slowStart ? PACE_SLOW_START : PACE_AVOIDANCE) * cwnd) / srtt
    const burst = Math.max(this.#minBurst, perMs * this.#burstMs)
    const elapsed = this.#tokensAt === undefined ? Number.POSITIVE_INFINITY : now - this.#tokensAt
    this.#tokens = Math.min(burst, this.#tokens + perMs * Math.max(0, elapsed))
    this.#tokensAt = now
  }

  /** One segment left. */
  take(): void {
    this.#tokens--
  }
}
