/**
 * How long probes wait. A *negative* answer (a filtering reply that never comes) can only be
 * read from silence, so its window is what dominates a classification's wall time: it scales
 * with the RTT measured by test I instead of being a fixed 0.5 s (P2PD's N4).
 */
export interface ProbeTiming {
  /** Initial RTO of the first request, before any RTT is known (default 200 ms). */
  readonly initialRtoMs?: number
  /** Shortest window for a negative answer (default 250 ms). */
  readonly minNegativeWaitMs?: number
  /** Negative window = max(minNegativeWaitMs, rttFactor × RTT of test I) (default 6). */
  readonly rttFactor?: number
}

export const DEFAULT_TIMING: Required<ProbeTiming> = {
  initialRtoMs: 200,
  minNegativeWaitMs: 250,
  rttFactor: 6,
}

/** Default deadline of a discovery while test I has not measured the RTT yet (ms). */
export const DISCOVERY_MS = 3000

/** The most a default discovery deadline grows to on a slow path (ms). */
export const MAX_DISCOVERY_MS = 6000

/**
 * The default deadline of a whole discovery once test I measured the RTT. After test I come
 * the filtering window (6 RTTs) and nine serial delta samples (an RTT each; over TCP a connect
 * each), some 20 RTTs: 3 s covers that up to ~130 ms RTT, a slower path gets 24 RTTs (at most
 * 6 s). Cut short, the delta is lost and a sequential NAT is announced as random (lab, 200 ms
 * RTT to the server: every delta was lost, and two sequential NATs never tried a punch).
 */
export function discoveryBudgetMs(rttMs: number): number {
  return Math.min(MAX_DISCOVERY_MS, Math.max(DISCOVERY_MS, Math.round(24 * rttMs)))
}

/** Retransmission timeout once an RTT is known: 2 × RTT, within [40, 500] ms. */
export function rtoFor(rttMs: number): number {
  return Math.min(500, Math.max(40, Math.round(2 * rttMs)))
}

/** The window after which silence counts as "no". */
export function negativeWaitFor(rttMs: number, timing: ProbeTiming = {}): number {
  const t = { ...DEFAULT_TIMING, ...timing }
  return Math.max(t.minNegativeWaitMs, Math.round(t.rttFactor * rttMs))
}

/** Whole milliseconds left before `deadline` (a `performance.now()` value), never negative. */
export function remaining(deadline: number): number {
  return Math.max(0, Math.floor(deadline - performance.now()))
}
