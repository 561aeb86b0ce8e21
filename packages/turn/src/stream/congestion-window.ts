import { Cubic, type CubicState } from './cubic.js'
import { DeliveryRate } from './delivery.js'
import { CSS_GROWTH_DIVISOR, HyStart, type SlowStartPhase } from './hystart.js'

export const MIN_CWND = 4
/**
 * Segments lost in one round trip, as a fraction of the window, above which a loss is taken
 * for congestion (BBRv2's loss threshold). Below it a loss is retransmitted and the window
 * keeps growing: a relay that drops a datagram now and then (coturn's 128 KiB sockets
 * overflowing while it waits for a CPU) is no full queue, and each cut cost a 100 ms path
 * seconds of CUBIC's climb back.
 */
export const LOSS_THRESHOLD = 0.02
/** A round whose minimum RTT exceeds the path's by this fraction of it shows a standing queue. */
const QUEUE_RTT_FRACTION = 0.25
/** ...or by at least this much (ms): loopback RTTs jitter by milliseconds without a queue. */
const QUEUE_RTT_MIN_MS = 5

/**
 * Most the window may exceed the path's bandwidth-delay product by (BBR's cwnd gain): enough
 * to keep the path full while acks come late or in bursts. Slow start is not bounded by it
 * (its measured rate lags a doubling window by a round); it ends when the RTT climbs.
 * Unbounded, the window grew to several times the product, and the excess sat as a queue in a
 * relay's socket buffer and in the delay line: round trips of 150–300 ms on a 100 ms path.
 */
export const CWND_GAIN = 2

/** What {@link CongestionWindow.snapshot} keeps, to undo a reduction that proved spurious. */
export interface WindowSnapshot {
  readonly cwnd: number
  readonly ssthresh: number
  readonly cubic: CubicState
  readonly slowStart: SlowStartPhase
}

/**
 * The congestion window (packets): slow start (left early when the RTT climbs, HyStart++
 * RFC 9406), then CUBIC growth (RFC 9438), never past {@link CWND_GAIN} times the path's
 * bandwidth-delay product. Losses cut it only when they look like congestion:
 * more than {@link LOSS_THRESHOLD} of a window lost in one round trip, or any loss while the
 * RTT shows a standing queue. A cut multiplies it by 0.7 — but never below what the path
 * delivered per minimum RTT lately (see {@link DeliveryRate}); a timeout drops it to the
 * minimum, to climb back in slow start to the threshold set the same way.
 */
export class CongestionWindow {
  readonly #maxCwnd: number
  readonly #initialCwnd: number
  readonly #cubic = new Cubic()
  readonly #hystart = new HyStart()
  readonly delivery = new DeliveryRate()
  #cwnd: number
  #ssthresh = Number.POSITIVE_INFINITY
  /** Loss events that cut the window (at most one per window of data). */
  lossEvents = 0
  /** Segments found lost that did not cut the window (sparse, or its window already cut). */
  sparseLosses = 0
  /** The delivery round the loss and RTT counts below belong to. */
  #round = -1
  #roundLost = 0
  #roundMinRtt = Number.POSITIVE_INFINITY
  /** Minimum RTT of the last complete round (infinite before one). */
  #lastRoundMinRtt = Number.POSITIVE_INFINITY

  constructor(initialCwnd: number, maxCwnd: number) {
    this.#cwnd = initialCwnd
    this.#initialCwnd = initialCwnd
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
    this.#syncRound()
    if (rttMs < this.#roundMinRtt) this.#roundMinRtt = rttMs
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
    // Past slow start (HyStart++ leaves it when the RTT climbs): the rate measured then is the
    // path's, and the window needs no more than twice the product to keep it full.
    const bdp = this.delivery.bdp
    if (!this.inSlowStart && bdp > 0) {
      const cap = Math.max(this.#initialCwnd, CWND_GAIN * bdp)
      if (this.#cwnd > cap) {
        // The threshold comes down with it, or the window below it would slow-start again.
        this.#cwnd = cap
        if (this.#ssthresh > cap) this.#ssthresh = cap
      }
    }
  }

  /**
   * `n` segments were found lost by selective acks. When that is congestion and `mayCut` (no
   * cut yet for this window of data), the window is cut and true returned; otherwise they are
   * only retransmitted and the window goes on growing.
   */
  onLoss(n: number, mayCut: boolean): boolean {
    this.#syncRound()
    this.#roundLost += n
    if (mayCut && (this.#roundLost > LOSS_THRESHOLD * this.#cwnd || this.#standingQueue())) {
      this.onLossEvent()
      return true
    }
    this.sparseLosses += n
    return false
  }

  /** A loss event that cuts the window, whatever the loss rate (once per window of data). */
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

  /** The last round's minimum RTT stood well above the path's: a queue is building. */
  #standingQueue(): boolean {
    const min = this.delivery.minRtt
    if (min === undefined || !Number.isFinite(this.#lastRoundMinRtt)) return false
    return this.#lastRoundMinRtt > min + Math.max(QUEUE_RTT_MIN_MS, min * QUEUE_RTT_FRACTION)
  }

  /** Starts the per-round counts afresh when the delivery estimator began a new round. */
  #syncRound(): void {
    const round = this.delivery.round
    if (round === this.#round) return
    this.#lastRoundMinRtt = round === this.#round + 1 ? this.#roundMinRtt : Number.POSITIVE_INFINITY
    this.#round = round
    this.#roundLost = 0
    this.#roundMinRtt = Number.POSITIVE_INFINITY
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
