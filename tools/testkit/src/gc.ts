/**
 * Deadline tests under garbage collection. vitest runs every project with `--expose-gc`: a
 * deadline in p2pd must fire on time through full collections (on Node 20 a signal built with
 * `AbortSignal.any` can be collected and never fire).
 */

/** The `gc()` that `--expose-gc` provides; throws when the process lacks the flag. */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc (vitest.config.ts sets it for every project)')
  gc()
}

/** Calls `gc()` every `everyMs` until the returned function is called. */
export function gcEvery(everyMs: number): () => void {
  forceGc() // fails at once, not in a timer, when --expose-gc is missing
  const timer = setInterval(forceGc, everyMs)
  return () => clearInterval(timer)
}

/** What {@link underGc} measured. */
export interface GcTiming<T> {
  readonly value?: T
  readonly err?: unknown
  /** When `work` settled, ms after it started. */
  readonly ms: number
  /** The bound it must settle within: + 10 %, + 50 ms, + this machine's own timer lateness. */
  readonly limitMs: number
}

/**
 * Runs `work` while forcing a full GC every 50 ms, beside a plain control timer of
 * `deadlineMs`: how late that timer fires is how late any timer fires on this machine right now
 * (a loaded CI box), and the deadline under test is allowed just as much on top of its bound.
 */
export async function underGc<T>(deadlineMs: number, work: () => Promise<T>): Promise<GcTiming<T>> {
  const stopGc = gcEvery(50)
  const t0 = performance.now()
  const control = new Promise<number>((resolve) =>
    setTimeout(() => resolve(performance.now() - t0), deadlineMs),
  )
  try {
    const settled = await work().then(
      (value) => ({ value, ms: performance.now() - t0 }),
      (err: unknown) => ({ err, ms: performance.now() - t0 }),
    )
    const lateMs = Math.max(0, (await control) - deadlineMs)
    return { ...settled, limitMs: deadlineMs * 1.1 + 50 + lateMs }
  } finally {
    stopGc()
  }
}
