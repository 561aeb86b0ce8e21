import { AbortError, TimeoutError } from './errors.js'

// Deadlines live in deadline.ts (Deadline, withDeadline, linkSignals): GC-safe on Node 20.

/** Throws the typed reason of an aborted signal ({@link TimeoutError} or {@link AbortError}). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal)
}

/** Maps a signal's raw reason to a typed p2pd error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason
  if (r instanceof AbortError || r instanceof TimeoutError) return r
  if (r instanceof Error && r.name === 'TimeoutError')
    return new TimeoutError(r.message, { cause: r })
  return new AbortError(r instanceof Error ? r.message : 'operation aborted', { cause: r })
}

/** Resolves after `ms`, or rejects with the typed abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortReason(signal as AbortSignal))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
