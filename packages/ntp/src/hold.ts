import { abortReason, Deadline, type ParentSignals, TimeoutError } from '@p2pd/interface'

/**
 * Whether pending work keeps the process alive. Calls the user awaits do (`'hold'`); the
 * clock's background refreshes do not (`'background'`), like its refresh timer: a program that
 * is done must be able to exit while a refresh is still in flight.
 */
export type Hold = 'hold' | 'background'

/** What the measurement code needs of a deadline. */
export interface OperationDeadline {
  readonly signal: AbortSignal
  readonly aborted: boolean
  dispose(): void
}

/**
 * A GC-safe deadline ({@link Deadline}); with `'background'` its timer is unref'd, so it fires
 * while something else keeps the process alive and never keeps it alive by itself.
 */
export function operationDeadline(
  timeoutMs: number,
  parents: ParentSignals,
  what: string,
  hold: Hold,
): OperationDeadline {
  if (hold === 'hold') return new Deadline(timeoutMs, parents, what)
  const timeout = new AbortController()
  const list = parents === undefined ? [] : Array.isArray(parents) ? parents : [parents]
  const link = new Deadline(Number.POSITIVE_INFINITY, [...list, timeout.signal], what)
  const ms = Math.max(0, timeoutMs)
  // The timer holds the controller, the controller's listener holds the link: all strong.
  const timer = Number.isFinite(ms)
    ? setTimeout(
        () => timeout.abort(new TimeoutError(`${what} timed out after ${Math.round(ms)} ms`)),
        ms,
      ).unref()
    : undefined
  return {
    signal: link.signal,
    get aborted() {
      return link.aborted
    },
    dispose() {
      clearTimeout(timer)
      link.dispose()
    },
  }
}

/** Resolves after `ms`, or rejects with the typed reason when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal, hold: Hold): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortReason(signal))
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    if (hold === 'background') timer.unref()
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Keeps the process alive until `work` settles (for a caller awaiting background work). */
export function keepAlive<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 2 ** 31 - 1)
  return work.finally(() => clearInterval(timer))
}
