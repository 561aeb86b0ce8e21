import { Cubic, type CubicState } from './cubic.js'
import { DeliveryRate } from './delivery.js'
import { CSS_GROWTH_DIVISOR, HyStart, type SlowStartPhase } from './hystart.js'

export const MIN_CWND = 4

/** What {@link CongestionWindow.snapshot} keeps, to undo a reduction that proved spurious. */
export interface WindowSnapshot {
  readonly cwnd: number
  readonly ssthresh: number
  readonly cubic: CubicState
  readonly slowStart: SlowStartPhase
}

/**
 * The congestion window (packets): slow start (left early when the RTT climbs, HyStart++
 * RFC 9406), then CUBIC growth (RFC 9438). A loss event multiplies it by 0.7 — but never below
 * what the path delivered per minimum RTT lately (see {@link DeliveryRate}); a timeout drops it
 * to the minimum, to climb back in slow start to the threshold set the same way.
 */
export class CongestionWindow {
  readonly #maxCwnd: number
  readonly #cubic = new Cubic()
  readonly #hystart = new HyStart()
  readonly delivery = new DeliveryRate()
  #cwnd: number
  #ssthresh = Number.POSITIVE_INFINITY
  /** Loss events that cut the window (at most one per window of data). */
  lossEvents = 0

  constructor(initialCwnd: number, maxCwnd: number) {
    this.#cwnd = initialCwnd
    this.#maxCwnd = maxCwnd
  }

  get cwnd(): number {
    return this.#cwnd
  }

  /** Slow-start threshold (packets; infinite until the first loss or HyStart exit). */
  get ssthresh(): number {
    return this.#ssthresh
  }

  get inSlowStart(): boolean {
    return this.#cwnd < this.#ssthresh
  }

  get slowStart(): SlowStartPhase {
    return this.#hystart.phase
  }

  /** One RTT sample at `now`, with the cumulative ack `una` and the next sequence number. */
  onRtt(rttMs: number, now: number, una: number, nextSeq: number): void {
    this.delivery.onRtt(rttMs, now)
    // Only HyStart's own exit sets the threshold here: after a timeout it is already 'done',
    // and taking that for an exit set the threshold to the collapsed window of 4.
    if (
      this.inSlowStart &&
      this.#hystart.phase !== 'done' &&
      this.#hystart.sample(rttMs, una, nextSeq) === 'done'
    ) {
      this.#ssthresh = this.#cwnd
    }
  }

  /** `acked` more segments arrived (outside loss recovery); `srtt` in ms. */
  grow(acked: number, now: number, srtt: number): void {
    if (this.inSlowStart) {
      const conservative = this.#hystart.phase === 'conservative'
      this.#cwnd += conservative ? acked / CSS_GROWTH_DIVISOR : acked
    } else {
      this.#cwnd = this.#cubic.grow(this.#cwnd, acked, now, srtt)
    }
    if (this.#cwnd > this.#maxCwnd) this.#cwnd = this.#maxCwnd
  }

  /** A SACK-detected loss event (once per window of data). */
  onLossEvent(): void {
    this.lossEvents++
    this.#hystart.end()
    this.#ssthresh = this.#reduced()
    this.#cwnd = this.#ssthresh
  }

  /**
   * A retransmission timeout: the window collapses; only the first timeout of a loss episode
   * (`fresh`) sets the threshold — each later one cut it again, from a window of 4, and after
   * one stall of a loaded relay a 100 ms path crawled.
   */
  onTimeout(fresh: boolean): void {
    this.#hystart.end()
    if (fresh) this.#ssthresh = this.#reduced()
    this.#cwnd = MIN_CWND
  }

  snapshot(): WindowSnapshot {
    return {
      cwnd: this.#cwnd,
      ssthresh: this.#ssthresh,
      cubic: this.#cubic.snapshot(),
      slowStart: this.#hystart.snapshot(),
    }
  }

  /** Undoes a spurious reduction: the window comes back (it may have grown since). */
  restore(s: WindowSnapshot): void {
    this.#cwnd = Math.max(this.#cwnd, s.cwnd)
    this.#ssthresh = s.ssthresh
    this.#cubic.restore(s.cubic)
    this.#hystart.restore(s.slowStart)
  }

  /**
   * The window after a loss: CUBIC's 0.7 of it, but not below what the path delivered per
   * minimum RTT lately — a loss with no queue behind it (a relay's socket buffer overflowing
   * while its process waited for a CPU) is no reason to send slower. A queue-induced loss
   * still cuts: the delivery rate is then the bottleneck's, and it times the minimum RTT is
   * below the window that built the queue.
   */
  #reduced(): number {
    const floor = Math.min(this.#cwnd, this.delivery.bdp)
    return Math.max(MIN_CWND, this.#cubic.onLoss(this.#cwnd), floor)
  }
}
