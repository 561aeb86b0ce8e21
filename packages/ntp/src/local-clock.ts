/**
 * The local system clock with sub-millisecond resolution. `Date.now()` only has whole
 * milliseconds, which alone would bias every SNTP sample by up to 1 ms; `performance.now()` is
 * fine-grained but monotonic, so it parts from the system clock whenever that is stepped or
 * slewed. This joins the two: system time = `performance.now()` + A, with A measured on a
 * `Date.now()` millisecond tick.
 *
 * Every call also brackets one `Date.now()` between two `performance.now()` readings, which
 * proves lower = w − p₂ ≤ A < w + 1 − p₁ = upper: an estimate outside that bracket is corrected
 * (the system clock moved), and once a second A is re-measured so a slewed clock is followed.
 * A measurement is only taken on a "clean" tick, one seen within 20 µs; under heavy CPU
 * contention the previous estimate is kept (clamped into the bracket) and measuring is retried
 * soon, rather than replacing a good estimate with a poor one.
 */

/** Re-measure A at least this often (ms of `performance.now()`). */
const REFRESH_MS = 1000
/** When no clean tick could be seen, try again after this long. */
const RETRY_MS = 50
/** A tick is usable when it is located within this window (ms). */
const CLEAN_MS = 0.02
/** Spin for a clean tick for at most this long (ms). */
const SPIN_BUDGET_MS = 3

let estimate = Number.NaN
let estimateError = 1
let measuredAt = Number.NEGATIVE_INFINITY

/**
 * A measured on the narrowest `Date.now()` tick seen while spinning (stops early at a clean
 * one), with its error bound (half the window the tick was located in).
 */
function measureOnTick(): { a: number; error: number } | undefined {
  const giveUp = performance.now() + SPIN_BUDGET_MS
  let best: { a: number; error: number } | undefined
  let prevBefore = performance.now()
  let prevWall = Date.now()
  for (;;) {
    const before = performance.now()
    const wall = Date.now()
    const after = performance.now()
    // The tick came after the previous Date.now() read (> prevBefore) and by this one (< after).
    if (wall === prevWall + 1) {
      const error = (after - prevBefore) / 2
      if (!best || error < best.error) best = { a: wall - (prevBefore + after) / 2, error }
      if (error < CLEAN_MS / 2) return best
    }
    if (after > giveUp) return best
    prevBefore = before
    prevWall = wall
  }
}

/** Milliseconds since the Unix epoch, consistent with `Date.now()`, with µs resolution. */
export function localNow(): number {
  const a = systemMinusMonotonic()
  return performance.now() + a
}

/** Bound (ms) on the error of `localNow()` against the system clock, as last measured. */
export function localNowError(): number {
  return estimateError
}

/**
 * A: system time − `performance.now()`, in ms. For code that keeps time on
 * `performance.now()` and must convert at one instant (reading `localNow()` and
 * `performance.now()` separately could straddle a re-measurement spin).
 */
export function systemMinusMonotonic(): number {
  const p1 = performance.now()
  const wall = Date.now()
  const p2 = performance.now()
  const lower = wall - p2
  const upper = wall + 1 - p1
  const known = !Number.isNaN(estimate)
  if (!known || estimate >= upper || estimate < lower - 1 || p2 - measuredAt > REFRESH_MS) {
    const m = measureOnTick()
    const consistent = known && estimate < upper && estimate >= lower - 1
    if (m && (m.error < CLEAN_MS / 2 || !consistent || m.error < estimateError)) {
      estimate = Math.min(upper - 1e-6, Math.max(lower, m.a))
      estimateError = Math.min(m.error, 1)
    } else if (!consistent) {
      estimate = lower
      estimateError = 1
    }
    // A poor measurement is retried soon rather than trusted for a whole second.
    measuredAt = estimateError < CLEAN_MS / 2 ? p2 : p2 - REFRESH_MS + RETRY_MS
  } else if (estimate < lower) {
    estimateError = Math.max(0, estimateError - (lower - estimate))
    estimate = lower // proven too low: tighten
  }
  return estimate
}
