/** Round trips whose best delivery rate the estimate remembers. */
const RATE_ROUNDS = 10
/** How long the minimum RTT is trusted before a newer sample replaces it (ms). */
const MIN_RTT_WINDOW_MS = 10_000

/** What the estimator stamps on a segment when it is (re)transmitted. */
export interface DeliveryStamp {
  /** Segments delivered when this one was sent. */
  delivered: number
  /** When the latest of those was delivered (ms; the send time if none yet). */
  deliveredAt: number
  /** Send time of the latest delivered segment at that point (ms). */
  firstSentAt: number
  /** When this segment was sent (ms). */
  sentAt: number
}

/**
 * The path's delivery rate and minimum RTT, measured from acks: how many segments arrived
 * between a segment's send and its ack, over that interval (the longer of the send and the
 * ack spans, so a burst of acks after a stall does not look like speed). The best rate of the
 * last {@link RATE_ROUNDS} round trips times the minimum RTT is the window the path carries
 * without a queue: the floor of a loss reaction. A relay that drops a few datagrams when its
 * socket buffer overflows during a scheduling stall delivers as fast as before, and halving
 * the window for each such burst left a 100 ms path at a third of its rate.
 */
export class DeliveryRate {
  #delivered = 0
  #deliveredAt: number | undefined
  #firstSentAt: number | undefined
  /** Best rate (segments/ms) of each recent round; ring buffer. */
  readonly #rounds = new Float64Array(RATE_ROUNDS)
  #round = 0
  /** Rounds completed so far (monotonic). */
  #roundCount = 0
  /** A round ends when a segment sent after it began is delivered. */
  #roundStart = 0
  #minRtt = Number.POSITIVE_INFINITY
  #minRttAt = 0

  /** Stamps `s` as transmitted at `now`. */
  stamp(s: DeliveryStamp, now: number): void {
    s.delivered = this.#delivered
    s.deliveredAt = this.#deliveredAt ?? now
    s.firstSentAt = this.#firstSentAt ?? now
    s.sentAt = now
  }

  /** `s` was acknowledged (cumulatively or selectively) at `now`, for the first time. */
  onDelivered(s: DeliveryStamp, now: number): void {
    this.#delivered++
    this.#deliveredAt = now
    this.#firstSentAt = s.sentAt
    if (s.delivered >= this.#roundStart) {
      this.#roundStart = this.#delivered
      this.#roundCount++
      this.#round = (this.#round + 1) % RATE_ROUNDS
      this.#rounds[this.#round] = 0
    }
    const interval = Math.max(s.sentAt - s.firstSentAt, now - s.deliveredAt)
    if (interval < 1) return
    const rate = (this.#delivered - s.delivered) / interval
    if (rate > (this.#rounds[this.#round] as number)) this.#rounds[this.#round] = rate
  }

  /**
   * Round trips begun so far: a round ends when a segment sent after it began is delivered.
   * Loss rates and RTT minima are kept per round.
   */
  get round(): number {
    return this.#roundCount
  }

  /** One RTT sample (ms) taken at `now`. */
  onRtt(rttMs: number, now: number): void {
    if (rttMs <= this.#minRtt || now - this.#minRttAt > MIN_RTT_WINDOW_MS) {
      this.#minRtt = rttMs
      this.#minRttAt = now
    }
  }

  /** Best recent delivery rate, segments per ms (0 before any sample). */
  get rate(): number {
    let best = 0
    for (const r of this.#rounds) if (r > best) best = r
    return best
  }

  get minRtt(): number | undefined {
    return Number.isFinite(this.#minRtt) ? this.#minRtt : undefined
  }

  /** Segments the path carried per minimum RTT: its bandwidth-delay product (0 if unknown). */
  get bdp(): number {
    return Number.isFinite(this.#minRtt) ? this.rate * Math.max(1, this.#minRtt) : 0
  }
}
