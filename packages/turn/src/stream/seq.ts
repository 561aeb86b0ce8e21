/**
 * 32-bit sequence-number arithmetic (RFC 1982 style): sequence numbers wrap, so they are
 * compared by their signed 32-bit distance, never with `<` directly.
 */

/** Signed distance `a − b` in sequence space (−2^31 … 2^31 − 1). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0
}

/** True when `a` comes before `b`. */
export function seqLess(a: number, b: number): boolean {
  return seqDiff(a, b) < 0
}

/** `a + n` in sequence space (unsigned 32-bit). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0
}
