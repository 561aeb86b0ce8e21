import { abortReason } from './abort.js'
import { AbortError, TimeoutError } from './errors.js'

/** What a {@link Deadline} follows besides its own timer: one signal, several, or none. */
export type ParentSignals = AbortSignal | undefined | ReadonlyArray<AbortSignal | undefined>

/**
 * A deadline owned by the operation it bounds: an `AbortController` aborted by its own timer or
 * by any parent signal, released by {@link Deadline.dispose}.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 a composite signal
 * that only its own listeners reference is collected by a full garbage collection, and its
 * timeout then never fires (fixed only in later Node lines). Here every reference is strong:
 * the pending timer and each parent's listener hold the controller, so the deadline fires
 * whatever the collector does. The timer also keeps the event loop alive while the operation
 * is pending, so an awaited operation can never let the process exit silently.
 *
 * Always dispose (or use {@link withDeadline}, which does): it clears the timer and detaches
 * the parent listeners, so a long-lived parent does not collect one listener per operation.
 *
 * @example
 * ```ts
 * const deadline = new Deadline(2_000, callerSignal, 'STUN binding')
 * try {
 *   await doWork(deadline.signal) // aborts with a TimeoutError after 2 s
 * } finally {
 *   deadline.dispose()
 * }
 * ```
 */
export class Deadline {
  /** Aborts when the timer fires (reason: {@link TimeoutError}) or a parent aborts (its reason). */
  readonly signal: AbortSignal
  /** When the timer fires, in `performance.now()` milliseconds (`Infinity`: no timer). */
  readonly expiresAt: number
  readonly #ctrl = new AbortController()
  #timer: NodeJS.Timeout | undefined
  readonly #parents: Array<{ signal: AbortSignal; onAbort: () => void }> = []

  /**
   * @param timeoutMs - milliseconds until the deadline; `Infinity` for none (parents only).
   * @param parents - signals whose abort aborts this one (their reason is passed on as is).
   * @param what - names the operation in the {@link TimeoutError} message.
   */
  constructor(timeoutMs: number, parents?: ParentSignals, what = 'operation') {
    this.signal = this.#ctrl.signal
    const list = parents === undefined ? [] : Array.isArray(parents) ? parents : [parents]
    const ctrl = this.#ctrl
    for (const parent of list as ReadonlyArray<AbortSignal | undefined>) {
      if (!parent) continue
      if (parent.aborted) {
        ctrl.abort(parent.reason)
        this.expiresAt = Number.NEGATIVE_INFINITY
        this.dispose()
        return
      }
      const onAbort = () => {
        ctrl.abort(parent.reason)
        this.dispose()
      }
      parent.addEventListener('abort', onAbort, { once: true })
      this.#parents.push({ signal: parent, onAbort })
    }
    if (Number.isFinite(timeoutMs)) {
      const ms = Math.max(0, timeoutMs)
      this.expiresAt = performance.now() + ms
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        ctrl.abort(new TimeoutError(`${what} timed out after ${Math.round(ms)} ms`))
        this.dispose()
      }, ms)
    } else {
      this.expiresAt = Number.POSITIVE_INFINITY
    }
  }

  /** True once the signal has aborted. */
  get aborted(): boolean {
    return this.signal.aborted
  }

  /** Milliseconds left before the timer fires (0 once past; `Infinity` without a timer). */
  get remainingMs(): number {
    return Math.max(0, this.expiresAt - performance.now())
  }

  /** Aborts now (default reason: {@link AbortError}) and releases the timer and listeners. */
  abort(reason: unknown = new AbortError()): void {
    if (!this.signal.aborted) this.#ctrl.abort(reason)
    this.dispose()
  }

  /**
   * Settles with `work`, or rejects with the typed abort reason as soon as the signal aborts,
   * even if `work` ignores the signal. A late rejection of `work` is absorbed.
   */
  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.signal
    if (signal.aborted) {
      work.catch(() => {})
      return Promise.reject(abortReason(signal))
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        work.catch(() => {})
        reject(abortReason(signal))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      work.then(
        (v) => {
          signal.removeEventListener('abort', onAbort)
          resolve(v)
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      )
    })
  }

  /** Clears the timer and detaches from the parents. Idempotent; does not abort. */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const { signal, onAbort } of this.#parents.splice(0))
      signal.removeEventListener('abort', onAbort)
  }

  [Symbol.dispose](): void {
    this.dispose()
  }
}

/**
 * Runs `work` under a {@link Deadline} and disposes it when `work` settles. The returned
 * promise always settles by the deadline: with `work`'s result, or with a
 * {@link TimeoutError} / {@link AbortError} the moment the deadline fires or a parent aborts.
 *
 * @example
 * ```ts
 * const reply = await withDeadline(3_000, signal, (s) => query(server, s), 'SNTP query')
 * ```
 */
export async function withDeadline<T>(
  timeoutMs: number,
  parents: ParentSignals,
  work: (signal: AbortSignal) => Promise<T> | T,
  what?: string,
): Promise<T> {
  const deadline = new Deadline(timeoutMs, parents, what)
  try {
    return await deadline.race(Promise.resolve().then(() => work(deadline.signal)))
  } finally {
    deadline.dispose()
  }
}

/**
 * A signal that aborts when any of `parents` does, released by `dispose()`: the GC-safe
 * replacement for `AbortSignal.any` (which, on Node 20, can be collected with its listeners).
 */
export function linkSignals(...parents: Array<AbortSignal | undefined>): Deadline {
  return new Deadline(Number.POSITIVE_INFINITY, parents)
}
