import { randomInt } from 'node:crypto'
import { sprayPlan } from '@p2pd/nat'

/**
 * Birthday spraying for a symmetric-random NAT against a port-restricted (APDF) cone
 * (the birthday paradox): the random ("hard") side opens `sockets` fresh mappings, all dialling
 * the cone's held mapping at the meeting instant; the cone ("easy") side, from its held port, sends
 * `probes` SYNs to distinct random ports of the random NAT's allocation range. A probe that
 * lands on a live mapping is a simultaneous open. P = 1 − (1 − n/R)^k.
 *
 * Against a cone that answers unsolicited SYNs with a RST, n is not the socket count: the RST
 * closes the random NAT's entry one round trip after the SYN left, so each mapping lives one
 * round trip and a socket's re-dial is a new mapping. The live count is then the random side's
 * SYN rate × that round trip (lab, 5 ms per uplink, re-dials at ~1,100/s: ~22 live, not 512 —
 * 5/10 punched). The random side re-dials at once within its rate cap, and the probes are sized
 * for `min(sockets, socketsPerSecond × rstRoundTripMs)` live mappings.
 *
 * The same count says where no spray works: RST on both sides with the NATs ~0 ms apart. Each
 * mapping then lives microseconds (the SYN, the cone's RST and the close run in one kernel
 * pass), so n ≈ 0 whatever the rate (lab, node-auto at ~0 ms: 0/20 direct against an RST
 * cone, ~13,000 SYNs each, 20/20 against a drop cone; at 100 ms per router and at 5:80 ms,
 * 40/40 each).
 */
export interface SprayBudget {
  /**
   * Fresh sockets (mappings) the random side opens (default 256: against an RST cone only
   * ~80 are live at once anyway, and against a drop cone 256 with the probes sized for 80 give
   * P ≈ 1; half the file descriptors and conntrack entries of 512).
   */
  readonly sockets?: number
  /** Success probability the easy side aims for (default 0.99). */
  readonly target?: number
  /** Most probes the easy side sends (default 1,024). */
  readonly maxProbes?: number
  /** Probe rate of the easy side, SYN/s (default 400). */
  readonly probesPerSecond?: number
  /**
   * SYN rate of the random side, SYN/s (default 4,000): it opens its sockets at this rate,
   * and its re-dials (after a RST cone's refusal) never exceed it.
   */
  readonly socketsPerSecond?: number
  /**
   * The shortest round trip between the NATs the budget plans for, ms (default 20: 5 ms per
   * uplink). Against an RST cone a random mapping lives about this long.
   */
  readonly rstRoundTripMs?: number
  /** Below this model probability the pair is refused as not punchable (default 0.9). */
  readonly minProbability?: number
}

/** The resolved budget of one punch (both sides compute the same from the same defaults). */
export interface SprayChoice {
  readonly sockets: number
  /** Mappings live at once on the random side against an RST cone (the model's n). */
  readonly live: number
  /** Most SYNs per second the random side sends (first dials and re-dials together). */
  readonly socketsPerSecond: number
  readonly probes: number
  /** The random NAT's allocation range the probes target. */
  readonly range: readonly [number, number]
  readonly probability: number
  /** Time the random side takes to open its sockets (ms). */
  readonly openMs: number
  /** Time the easy side takes to send its probes (ms). */
  readonly probeMs: number
  readonly feasible: boolean
}

/**
 * Linux's range for `fully-random` SNAT without an explicit range (`nf_nat_l4proto_unique_tuple`:
 * 1024–65535), also the widest a NAT uses for unprivileged ports: the default when the random
 * side's NAT record does not say.
 */
export const DEFAULT_RANDOM_RANGE: readonly [number, number] = [1024, 65535]

export const sprayDefaults = {
  sockets: 256,
  target: 0.99,
  maxProbes: 4_096,
  probesPerSecond: 2_000,
  socketsPerSecond: 4_000,
  rstRoundTripMs: 20,
  minProbability: 0.9,
} as const

/** Hard limits whatever the configuration: sockets, probes and SYN rates a punch may ever spend. */
export const SPRAY_LIMITS = {
  sockets: 1_024,
  probes: 4_096,
  probesPerSecond: 2_000,
  socketsPerSecond: 8_000,
} as const

/** The budget for a random NAT with `range` (the peer's record, else {@link DEFAULT_RANDOM_RANGE}). */
export function sprayChoice(
  range: readonly [number, number] | undefined,
  budget: SprayBudget = {},
): SprayChoice {
  const r = range ?? DEFAULT_RANDOM_RANGE
  const sockets = clamp(budget.sockets ?? sprayDefaults.sockets, 1, SPRAY_LIMITS.sockets)
  const maxProbes = clamp(budget.maxProbes ?? sprayDefaults.maxProbes, 1, SPRAY_LIMITS.probes)
  const rate = clamp(
    budget.probesPerSecond ?? sprayDefaults.probesPerSecond,
    1,
    SPRAY_LIMITS.probesPerSecond,
  )
  const socketsPerSecond = clamp(
    budget.socketsPerSecond ?? sprayDefaults.socketsPerSecond,
    1,
    SPRAY_LIMITS.socketsPerSecond,
  )
  const rtt = Math.max(0, budget.rstRoundTripMs ?? sprayDefaults.rstRoundTripMs)
  // Both sides plan for an RST cone: a drop cone keeps every mapping (more live, not fewer).
  const live = clamp((socketsPerSecond * rtt) / 1000, 1, sockets)
  const plan = sprayPlan('easy', r, {
    sockets: live,
    target: budget.target ?? sprayDefaults.target,
    maxProbes,
    probesPerSecond: rate,
  })
  // Distinct probes: never more than the range holds.
  const probes = Math.min(plan.probes, r[1] - r[0] + 1)
  return {
    sockets,
    live,
    socketsPerSecond,
    probes,
    range: r,
    probability: plan.probability,
    openMs: Math.ceil((sockets / socketsPerSecond) * 1000),
    probeMs: Math.ceil((probes / rate) * 1000),
    feasible: plan.probability >= (budget.minProbability ?? sprayDefaults.minProbability),
  }
}

/** `count` distinct ports drawn uniformly from `range` (inclusive). */
export function randomPorts(
  range: readonly [number, number],
  count: number,
  random: (max: number) => number = randomInt,
): number[] {
  const size = range[1] - range[0] + 1
  const n = Math.max(0, Math.min(count, size))
  const out = new Set<number>()
  while (out.size < n) out.add(range[0] + random(size))
  return [...out]
}

/** Offsets (ms after the instant) of `count` SYNs sent evenly at `perSecond`, after `delayMs`. */
export function evenOffsets(count: number, perSecond: number, delayMs = 0): number[] {
  const step = 1000 / Math.max(1, perSecond)
  return Array.from({ length: Math.max(0, count) }, (_, i) => Math.round(delayMs + i * step))
}

/**
 * When the easy side starts probing: its first probe must reach the random NAT after the random
 * side has opened its mappings (`openMs` after the instant, give or take the clocks'
 * disagreement `uncertaintyMs`); it travels one one-way delay.
 */
export function probeDelay(openMs: number, uncertaintyMs: number, oneWayMs: number): number {
  return Math.max(0, Math.round(openMs + uncertaintyMs - oneWayMs))
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.floor(v)))
