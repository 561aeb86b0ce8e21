/** Signed distance from port `a` to port `b` on the 16-bit circle, in [-32768, 32767]. */
export function portDistance(a: number, b: number): number {
  return ((((b - a + 32768) % 65536) + 65536) % 65536) - 32768
}

/** `port` moved by `step`, wrapped into the inclusive range [lo, hi]. */
export function wrapPort(port: number, step: number, range: readonly [number, number]): number {
  const [lo, hi] = range
  const size = hi - lo + 1
  return lo + ((((port - lo + step) % size) + size) % size)
}

/** The most common value and how often it occurs (first seen wins ties). */
export function mode(values: readonly number[]): { value: number; count: number } {
  const counts = new Map<number, number>()
  let best = { value: 0, count: 0 }
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1
    counts.set(v, c)
    if (c > best.count) best = { value: v, count: c }
  }
  return best
}
