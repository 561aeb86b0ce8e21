import { jitter } from './schedule.js'

/**
 * How a pair retries after a RST when our NAT keeps the same mapping for every attempt
 * (endpoint-independent mapping). An attempt through an RST-answering peer NAT lives one
 * *network* round trip: the SYN leaves, the peer's NAT refuses it, the RST closes our NAT's
 * entry. Our mapping is open only while a SYN of ours is in flight, so the fastest way to keep
 * it open is to send the next SYN at once. Waiting a signaling-paced interval instead (tens of
 * ms through a broker) left the mapping closed ~99 % of the time on a 0.2 ms path, and two
 * such loops almost never overlapped (lab: 0/8 punched at ~0 ms with RST on both sides).
 * The pause is uniform in `[0, maxMs]`, so two loops that do not overlap now drift into one
 * another; the count and a time budget bound the SYNs one pair sends.
 *
 * Only a side whose NAT keeps its mapping across attempts can retry like this: a sequential or
 * random symmetric NAT drops the entry on the RST and maps the next SYN to a new port (lab:
 * five retries of one 4-tuple left from ports 50000–50004). On the lab's ~0 ms path the window
 * is microseconds, not a round trip: the SYN, the peer NAT's RST and our NAT's close run in the
 * sender's own kernel context, so two loops cross only while both peers run on different CPUs
 * (lab, plain Node, port-restricted RST × RST: 0/6 with both pinned to one CPU, thousands of
 * attempts each; 5/6 on two).
 */
export interface FastRetry {
  /** Upper bound of the uniform pause after a RST, ms. */
  readonly maxMs: number
  /** Fast retries one pair may make. */
  readonly attempts: number
  /** Fast retries stop this long after the pair's first RST, ms. */
  readonly budgetMs: number
}

/**
 * Pauses uniform in 0–1.5 ms: two in three under 1 ms, which the loop spends as a random number
 * of event-loop turns (µs each; a timer never fires under 1 ms), the rest a 1 ms timer. Two
 * loops cross about `2·δ·λa·λb` times a second (δ the one-way time between the NATs, λ each
 * side's attempt rate), so the rate counts — but only if their phases wander: two loops of equal
 * period that retry on the next turn keep their phase and may never cross (lab: 6,000 attempts
 * a side without one crossing). At most 3,000 fast retries or 3 s (the base window) per pair; on
 * long paths the RST's own round trip sets the pace.
 */
export const fastRetryDefaults: FastRetry = { maxMs: 1.5, attempts: 3_000, budgetMs: 3_000 }

/** What one pair has spent on fast retries so far. */
export interface RetryState {
  /** Fast retries made. */
  readonly fastUsed: number
  /** Time since the pair's first RST, ms (`undefined`: none yet). */
  readonly sinceFirstRefusedMs: number | undefined
}

/**
 * The pause before a pair's next attempt after one that failed with `code`. A RST
 * (`ECONNREFUSED`) within the fast budget: uniform in `[0, maxMs]`. Anything else (a timeout,
 * the 4-tuple still closing, the budget spent, or fast retry off for this side): the jittered
 * `slowMeanMs` pace.
 */
export function retryDelay(
  code: string,
  state: RetryState,
  slowMeanMs: number,
  fast: FastRetry | undefined,
  random: () => number = Math.random,
): { readonly delayMs: number; readonly fast: boolean } {
  if (
    fast &&
    code === 'ECONNREFUSED' &&
    state.fastUsed < fast.attempts &&
    (state.sinceFirstRefusedMs ?? 0) < fast.budgetMs
  ) {
    return { delayMs: random() * Math.max(0, fast.maxMs), fast: true }
  }
  return { delayMs: jitter(slowMeanMs, random), fast: false }
}
