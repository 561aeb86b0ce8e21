/**
 * A wall clock corrected for this machine's skew (measured by SNTP in `@p2pd/ntp`).
 * Hole punching schedules both peers on it, so `uncertainty` matters as much as `now()`.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, skew-corrected; never goes backwards. */
  now(): number
  /** Current correction in ms added to the system clock. */
  readonly offset: number
  /** Bound (ms) on |now() − true time|; callers widen their windows by it. */
  readonly uncertainty: number
}

/** The system clock, uncorrected: offset 0, uncertainty unknown (taken as 1 s). */
export const systemClock: Clock = {
  now: () => Date.now(),
  offset: 0,
  uncertainty: 1000,
}
