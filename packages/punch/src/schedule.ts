/**
 * The schedule maths of a punch: when both peers fire, how long they keep trying, and how
 * retries are paced. Pure functions; every input in milliseconds.
 *
 * - The signaling round trip is measured by the offerer on its *monotonic* clock (offer sent →
 *   answer received, minus the time the answerer held the offer), so clock skew cannot bias it.
 * - The meeting instant must leave time for `punch/ready` to reach the answerer and its
 *   `punch/ack` to come back (one RTT), plus the two clocks' disagreement: in the worst case
 *   the answerer's clock runs ahead of ours by `u_local + u_remote`, and it must still see
 *   the ready before the instant. Same machine: one clock, no disagreement.
 * - Both sides keep trying for a window that also covers that disagreement (twice: either
 *   clock may be the early one).
 */

export interface MeetingInput {
  /** The offerer's clock now (epoch ms, skew-corrected). */
  readonly nowMs: number
  /** Measured signaling round trip, ms. */
  readonly rttMs: number
  readonly localUncertaintyMs: number
  readonly remoteUncertaintyMs: number
  /** True when both peers read the same clock (same machine). */
  readonly sameClock?: boolean
  /** Time to arm sockets after the ready arrives (default {@link defaults.armMs}). */
  readonly armMs?: number
}

export const defaults = {
  /** Sockets are bound before the ready is sent; arming is a few syscalls. */
  armMs: 20,
  /** Floor of the lead time (a meeting never sits in the past). */
  minLeadMs: 30,
  /** Cap on the clocks' disagreement we wait for (an unsynchronised clock claims 1 s). */
  maxUncertaintyMs: 1_000,
  /** How long SYNs keep being sent after the instant, before uncertainty is added. */
  baseWindowMs: 3_000,
  /** Cap of one connect attempt: a silently dropped SYN must not block (P2PD bug T2). */
  attemptTimeoutMs: 1_500,
  /** Bounds of the mean retry interval after a RST. */
  minRetryMs: 10,
  maxRetryMs: 50,
  /**
   * Answer-and-go only while the clocks agree this well (ms): the lead grows with twice the
   * disagreement, and the ready/ack round costs one RTT instead.
   */
  maxGoUncertaintyMs: 100,
  /** Cap on the measured answer trip a lead covers (a stalled publish must not stall punches). */
  maxAnswerTripMs: 1_000,
} as const

/** Signaling RTT from monotonic times (`performance.now()`), minus the answerer's hold. */
export function signalingRtt(sentAtPerf: number, receivedAtPerf: number, heldMs: number): number {
  return Math.max(0, receivedAtPerf - sentAtPerf - Math.max(0, heldMs))
}

/** How far the two clocks may disagree, ms (capped; 0 on one machine). */
export function relativeUncertainty(
  localMs: number,
  remoteMs: number,
  sameClock = false,
  cap: number = defaults.maxUncertaintyMs,
): number {
  if (sameClock) return 0
  return Math.min(cap, Math.max(0, localMs) + Math.max(0, remoteMs))
}

/** One-way delay estimate from the round trip (symmetric paths assumed). */
export const oneWayDelay = (rttMs: number): number => Math.max(0, rttMs) / 2

/**
 * The lead between "now" (offerer, when it sends `punch/ready`) and the meeting instant:
 * ready + ack (one RTT) + the clocks' disagreement + arming.
 */
export function meetingLead(input: Omit<MeetingInput, 'nowMs'>): number {
  const u = relativeUncertainty(
    input.localUncertaintyMs,
    input.remoteUncertaintyMs,
    input.sameClock,
  )
  return Math.max(defaults.minLeadMs, input.rttMs + u + (input.armMs ?? defaults.armMs))
}

/** The meeting instant, epoch ms on the shared (skew-corrected) time scale. */
export function meetingTime(input: MeetingInput): number {
  return Math.round(input.nowMs + meetingLead(input))
}

/** How long both sides keep trying after the instant. */
export function punchWindow(
  localUncertaintyMs: number,
  remoteUncertaintyMs: number,
  sameClock = false,
  baseMs: number = defaults.baseWindowMs,
): number {
  return Math.round(
    baseMs + 2 * relativeUncertainty(localUncertaintyMs, remoteUncertaintyMs, sameClock),
  )
}

/**
 * Mean retry interval after a RST: one one-way delay (an attempt through an RST-answering NAT
 * lives about one RTT, so with this pace a SYN is nearly always in flight), bounded.
 */
export function retryInterval(oneWayMs: number): number {
  return Math.min(defaults.maxRetryMs, Math.max(defaults.minRetryMs, oneWayMs))
}

/**
 * A jittered interval, uniform in [0.5·mean, 1.5·mean]. Two fixed-period retry loops keep a
 * constant phase and may never overlap on fast paths (lab finding); jitter breaks the phase.
 */
export function jitter(meanMs: number, random: () => number = Math.random): number {
  return meanMs * (0.5 + random())
}

/**
 * Start offsets of `n` socket pairs after the instant: spread over one one-way delay, so that
 * on a path through RST-answering NATs a fresh SYN leaves every `oneWay / n` ms. Both sides use
 * the same offsets for the same pair index.
 */
export function staggerOffsets(n: number, oneWayMs: number): number[] {
  const step = n > 1 ? Math.min(25, Math.max(2, oneWayMs / n)) : 0
  return Array.from({ length: Math.max(0, n) }, (_, i) => Math.round(i * step))
}

/**
 * Answer-and-go: the one-way signaling delay the answerer reads off the offer (its own clock at
 * arrival minus the offer's `sentAt`, both skew-corrected): off by at most the clocks'
 * disagreement either way, never negative.
 */
export function measuredOneWay(receivedAtMs: number, sentAtMs: number): number {
  return Math.max(0, receivedAtMs - sentAtMs)
}

/**
 * Answer-and-go: the lead between the answer leaving and the meeting instant. The answer must
 * reach the offerer and the offerer must see it before the instant even with its clock `U`
 * ahead; then arming. The answer's trip is estimated by the offer's (the measured one-way
 * delay, which may hide up to `U` of disagreement) or, when larger, by what our answers were
 * measured to cost (`answerTripMs`, see {@link TripEstimate}): an answer's trip is not the
 * offer's mirror — sealing it, and the offerer opening and planning from it, take CPU that a
 * loaded machine stretches (lab, 5 ms per uplink: offerers planned up to 254 ms after the
 * instant, with answers taking 32–431 ms to publish).
 */
export function answerLead(
  oneWayMs: number,
  uncertaintyMs: number,
  armMs: number = defaults.armMs,
  answerTripMs = 0,
): number {
  return Math.max(
    defaults.minLeadMs,
    Math.max(0, oneWayMs, Math.min(defaults.maxAnswerTripMs, answerTripMs)) +
      2 * Math.max(0, uncertaintyMs) +
      armMs,
  )
}

/**
 * A running estimate of how long our answers take to publish (sealing and the broker's
 * acknowledgement), like TCP's retransmission timer: the smoothed mean plus twice the smoothed
 * deviation, so that one slow answer raises the next leads and a run of fast ones lowers them.
 * `undefined` before the first sample.
 */
export class TripEstimate {
  #mean: number | undefined
  #dev = 0

  /** Adds one measured publish duration, ms (negative or non-finite samples are ignored). */
  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    const x = Math.min(ms, defaults.maxAnswerTripMs)
    if (this.#mean === undefined) {
      this.#mean = x
      this.#dev = x / 4
      return
    }
    this.#dev = 0.75 * this.#dev + 0.25 * Math.abs(x - this.#mean)
    this.#mean = 0.875 * this.#mean + 0.125 * x
  }

  /** The estimate, ms, capped at `scheduleDefaults.maxAnswerTripMs`; undefined with no sample. */
  get ms(): number | undefined {
    if (this.#mean === undefined) return undefined
    return Math.min(defaults.maxAnswerTripMs, Math.round(this.#mean + 2 * this.#dev))
  }
}

/**
 * When a side of a simultaneous open sends its first SYN, from what the peer's NAT does with a
 * SYN it refuses (its measured SYN policy, from the offer or answer). `drop`: as soon as it is
 * armed (`nowMs`) — an early SYN is dropped by the peer's NAT but waits in SYN_SENT, our
 * mapping open, and the peer's own SYN crosses into it, so waiting for the instant only costs
 * time (the clocks' disagreement and the lead). `rst` or not known: at the instant — an early
 * SYN is refused, its RST closes our mapping again, and the two sides must overlap (fast
 * retries after each RST keep them overlapping from there).
 */
export function firstSynAt(
  meetAtMs: number,
  nowMs: number,
  peerSynPolicy: 'drop' | 'rst' | 'unknown' | undefined,
): number {
  return peerSynPolicy === 'drop' ? Math.min(nowMs, meetAtMs) : meetAtMs
}
