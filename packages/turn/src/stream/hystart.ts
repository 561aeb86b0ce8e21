import { seqLess } from './seq.js'

/** RTT samples per round before a round's minimum is trusted (RFC 9406 N_RTT_SAMPLE). */
const MIN_SAMPLES = 8
/** Bounds of the RTT increase that ends standard slow start (MIN/MAX_RTT_THRESH, ms). */
const MIN_THRESH_MS = 4
const MAX_THRESH_MS = 16
/** Rounds of conservative slow start before congestion avoidance (CSS_ROUNDS). */
const CSS_ROUNDS = 5
/** Window growth divisor during conservative slow start (CSS_GROWTH_DIVISOR). */
export const CSS_GROWTH_DIVISOR = 4

/**
 * Where the initial slow start stands: `standard` (window doubles per round),
 * `conservative` (grows by a quarter per round while the RTT rise is confirmed), `done`
 * (leave slow start for congestion avoidance; final).
 */
export type SlowStartPhase = 'standard' | 'conservative' | 'done'

/**
 * Delay-based exit from the initial slow start (HyStart++, RFC 9406): when a round's minimum
 * RTT rises by an eighth over the previous round's, queues are building. Conservative slow
 * start then checks for a few rounds that the rise is real before growth slows for good —
 * on a relay whose server is CPU-bound, plain doubling means seconds of bufferbloat and
 * spurious timeouts rather than loss.
 */
export class HyStart {
  #phase: SlowStartPhase = 'standard'
  #roundEnd: number | undefined
  #lastRoundMin = Number.POSITIVE_INFINITY
  #roundMin = Number.POSITIVE_INFINITY
  #samples = 0
  #cssBaseline = Number.POSITIVE_INFINITY
  #cssRounds = 0

  get phase(): SlowStartPhase {
    return this.#phase
  }

  /**
   * Feeds one RTT sample taken when the cumulative ack was `una` and the next new sequence
   * number is `nextSeq`; returns the phase after it.
   */
  sample(rttMs: number, una: number, nextSeq: number): SlowStartPhase {
    if (this.#phase === 'done') return 'done'
    if (this.#roundEnd === undefined || !seqLess(una, this.#roundEnd)) {
      // A new round: everything sent in the previous one is acknowledged.
      this.#lastRoundMin = this.#roundMin
      this.#roundMin = Number.POSITIVE_INFINITY
      this.#samples = 0
      this.#roundEnd = nextSeq
      if (this.#phase === 'conservative' && ++this.#cssRounds >= CSS_ROUNDS) {
        this.#phase = 'done'
        return 'done'
      }
    }
    this.#roundMin = Math.min(this.#roundMin, rttMs)
    this.#samples++
    if (this.#samples < MIN_SAMPLES) return this.#phase
    if (this.#phase === 'standard' && Number.isFinite(this.#lastRoundMin)) {
      const thresh = Math.min(MAX_THRESH_MS, Math.max(MIN_THRESH_MS, this.#lastRoundMin / 8))
      if (this.#roundMin >= this.#lastRoundMin + thresh) {
        this.#phase = 'conservative'
        this.#cssBaseline = this.#roundMin
        this.#cssRounds = 0
      }
    } else if (this.#phase === 'conservative' && this.#roundMin < this.#cssBaseline) {
      // The rise was a blip: back to doubling.
      this.#phase = 'standard'
    }
    return this.#phase
  }

  /** A loss ends the initial slow start for good (RFC 9406 §4.2). */
  end(): void {
    this.#phase = 'done'
  }

  /** The phase before {@link end}, to undo a timeout that proved spurious. */
  snapshot(): SlowStartPhase {
    return this.#phase
  }

  /**
   * Back to `phase` after a spurious timeout: a stall of either end's event loop is no sign
   * of a full path, and ending slow start on it left a 100 ms path at a tenth of its rate.
   */
  restore(phase: SlowStartPhase): void {
    this.#phase = phase
  }
}
