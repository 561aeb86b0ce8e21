/**
 * Birthday arithmetic for a random (hard) NAT (the birthday paradox, with Tailscale's numbers): the hard
 * side holds `sockets` fresh mappings towards the easy side, each on a uniformly random port
 * of a range of `rangeSize` ports; the easy side sends `probes` packets to distinct random
 * ports of that range. P(at least one hit) = 1 − (1 − n/R)^k.
 * With n = 256 and R = 65,535: k = 174 → ~50 %, 1,024 → ~98 %, 2,048 → ~99.97 %.
 */
export function birthdaySuccess(sockets: number, probes: number, rangeSize = 65535): number {
  if (sockets <= 0 || probes <= 0 || rangeSize <= 0) return 0
  const miss = Math.max(0, 1 - Math.min(sockets, rangeSize) / rangeSize)
  return 1 - miss ** probes
}

/** Probes the easy side needs to reach `target` success with `sockets` on the hard side. */
export function birthdayProbes(sockets: number, target: number, rangeSize = 65535): number {
  if (target <= 0) return 0
  const miss = 1 - Math.min(sockets, rangeSize) / rangeSize
  if (miss <= 0) return 1
  if (target >= 1) return Number.POSITIVE_INFINITY
  return Math.ceil(Math.log(1 - target) / Math.log(miss))
}

/** A port-spray plan for a pair where one side allocates at random. */
export interface SprayPlan {
  /** `hard`: we open `sockets` mappings; `easy`: we send `probes` to the peer's range. */
  readonly role: 'hard' | 'easy'
  readonly sockets: number
  readonly probes: number
  /** The hard side's allocation range the probes target. */
  readonly range: readonly [number, number]
  /** Model probability that at least one probe meets one socket. */
  readonly probability: number
  /** Time the easy side needs at `probesPerSecond`. */
  readonly durationMs: number
}

export interface SprayBudget {
  /** Mappings the hard side opens (default 256, as Tailscale and hyperdht). */
  readonly sockets?: number
  /** Success probability to aim for (default 0.99). */
  readonly target?: number
  /** Most probes the easy side may send (default 2,048). */
  readonly maxProbes?: number
  /** Probe rate (default 100/s, the rate Tailscale's numbers assume). */
  readonly probesPerSecond?: number
}

/** The plan for one side: how many sockets and probes for the target, within the budget. */
export function sprayPlan(
  role: 'hard' | 'easy',
  range: readonly [number, number],
  budget: SprayBudget = {},
): SprayPlan {
  const sockets = budget.sockets ?? 256
  const size = range[1] - range[0] + 1
  const probes = Math.min(
    budget.maxProbes ?? 2048,
    birthdayProbes(sockets, budget.target ?? 0.99, size),
  )
  return {
    role,
    sockets,
    probes,
    range,
    probability: birthdaySuccess(sockets, probes, size),
    durationMs: Math.ceil((probes / (budget.probesPerSecond ?? 100)) * 1000),
  }
}
