import {
  AbortError,
  abortReason,
  type Clock,
  Deadline,
  linkSignals,
  TimeoutError,
} from '@p2pd/interface'
import { NtpError } from './errors.js'
import { keepAlive } from './hold.js'
import { KissTracker } from './kiss.js'
import { localNow, systemMinusMonotonic } from './local-clock.js'
import { type MeasureOptions, measure, type OffsetEstimate } from './measure.js'
import type { NtpServerSpec } from './server-spec.js'

/** What a clock reports to its subscribers after every refresh attempt. */
export type NtpClockEvent =
  | { readonly type: 'sync'; readonly estimate: OffsetEstimate }
  | { readonly type: 'error'; readonly error: Error }

export interface NtpClockOptions
  extends Pick<MeasureOptions, 'samplesPerServer' | 'spacingMs' | 'queryTimeoutMs' | 'timeoutMs'> {
  /** Servers to ask. There is no default: pick ones you may use (e.g. your own, or a pool). */
  servers: readonly NtpServerSpec[]
  /** Time between background refreshes (default 10 min). */
  refreshIntervalMs?: number
  /** First retry after a failed refresh (default 30 s), doubling up to `refreshIntervalMs`. */
  retryIntervalMs?: number
  /**
   * How fast a backward correction is absorbed, in ms per second (default 5: the clock then
   * runs 0.5 % slow until it has caught up). Forward corrections step at once.
   */
  slewRateMsPerS?: number
  /** Assumed drift of the local clock, in ppm; widens `uncertainty` between refreshes (default 15). */
  driftPpm?: number
  /** `uncertainty` before the first sync (default 1000 ms, like `systemClock`). */
  unsyncedUncertaintyMs?: number
  /** Kiss-o'-Death memory (default: a private one). */
  kiss?: KissTracker
  onSync?: (estimate: OffsetEstimate) => void
  onError?: (error: Error) => void
}

/**
 * A `Clock` (from `@p2pd/interface`) corrected by SNTP, refreshed in the background.
 *
 * Time is kept on the monotonic `performance.now()` from the last sync, so a step of the system
 * clock does not move it, and it never goes backwards: a correction forward steps at once, a
 * correction backward steps back only as far as the last value handed out by `now()` allows and
 * slews the rest at `slewRateMsPerS`. While it slews, the remaining lag is part of
 * `uncertainty`.
 *
 * @example
 * ```ts
 * const clock = new NtpClock({ servers: ['time.example.net'] })
 * await clock.ready()
 * console.log(new Date(clock.now()), `±${clock.uncertainty.toFixed(1)} ms`)
 * clock.stop()
 * ```
 */
export class NtpClock implements Clock {
  readonly #opts: NtpClockOptions
  readonly #kiss: KissTracker
  readonly #listeners = new Set<(e: NtpClockEvent) => void>()
  // Timeline: time(p) = #baseTime + (p − #basePerf) + lag(p), p = performance.now().
  #basePerf = performance.now()
  #baseTime = this.#basePerf + systemMinusMonotonic()
  #lagAtBase = 0
  #last = Number.NEGATIVE_INFINITY
  #syncUncertainty = Number.POSITIVE_INFINITY
  #synced = false
  #estimate: OffsetEstimate | undefined
  #lastError: Error | undefined
  #failures = 0
  #started = false
  #stopper = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #inflight: Promise<OffsetEstimate> | undefined

  constructor(options: NtpClockOptions) {
    this.#opts = options
    this.#kiss = options.kiss ?? new KissTracker()
  }

  /** Corrected milliseconds since the Unix epoch (fractional); never decreases. */
  now(): number {
    const v = Math.max(this.#last, this.#at(performance.now()))
    this.#last = v
    return v
  }

  /** Current correction added to the system clock, ms (includes any lag still being slewed). */
  get offset(): number {
    const a = systemMinusMonotonic()
    const p = performance.now()
    return this.#at(p) - (p + a)
  }

  /** Bound on |now() − true time|, ms: sync uncertainty + drift since + remaining slew lag. */
  get uncertainty(): number {
    if (!this.#synced) return this.#opts.unsyncedUncertaintyMs ?? 1000
    const p = performance.now()
    const drift = ((this.#opts.driftPpm ?? 15) * (p - this.#basePerf)) / 1e6
    return this.#syncUncertainty + drift + this.#lag(p)
  }

  /** True once a refresh has succeeded. */
  get synced(): boolean {
    return this.#synced
  }

  /** The estimate of the last successful refresh. */
  get lastEstimate(): OffsetEstimate | undefined {
    return this.#estimate
  }

  /** The error of the last failed refresh (cleared by a success). */
  get lastError(): Error | undefined {
    return this.#lastError
  }

  /** Starts background refreshing (the first one at once). Idempotent; returns `this`. */
  start(): this {
    if (this.#started) return this
    if (this.#stopper.signal.aborted) this.#stopper = new AbortController()
    this.#started = true
    this.#schedule(0)
    return this
  }

  /** Stops refreshing, cancels a refresh in flight and rejects pending `ready()` calls. */
  stop(): void {
    this.#started = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#stopper.abort(new AbortError('NtpClock stopped'))
  }

  /**
   * Resolves once the clock has synced (starting it if needed). On deadline (default 30 s) it
   * rejects with `NtpError('NTP_NOT_SYNCED')` carrying the last refresh error, or `TimeoutError`.
   * While it is pending the process stays alive; once it settles, only the background refresh
   * remains, and that never keeps the process alive (call `stop()` to end it).
   */
  async ready(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    if (this.#synced) return
    this.start()
    const deadline = new Deadline(
      options.timeoutMs ?? 30_000,
      [options.signal, this.#stopper.signal],
      'NtpClock.ready',
    )
    const signal = deadline.signal
    let unsubscribe = () => {}
    let onAbort = () => {}
    try {
      await new Promise<void>((resolve, reject) => {
        onAbort = () => {
          const reason = abortReason(signal)
          if (reason instanceof TimeoutError && this.#lastError) {
            reject(
              new NtpError('NTP_NOT_SYNCED', `clock not synced: ${this.#lastError.message}`, {
                cause: this.#lastError,
              }),
            )
          } else reject(reason)
        }
        if (signal.aborted) return onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
        unsubscribe = this.subscribe((e) => {
          if (e.type === 'sync') resolve()
        })
      })
    } finally {
      unsubscribe()
      signal.removeEventListener('abort', onAbort)
      deadline.dispose()
    }
  }

  /**
   * Measures now and applies the result. Concurrent calls share one measurement.
   * Background refreshing is not needed for this to work.
   */
  refresh(options: { signal?: AbortSignal } = {}): Promise<OffsetEstimate> {
    // The measurement itself never holds the process open; an awaiting caller does.
    return keepAlive(this.#refresh(options.signal))
  }

  #refresh(callerSignal?: AbortSignal): Promise<OffsetEstimate> {
    if (this.#inflight) return this.#inflight
    if (this.#stopper.signal.aborted) this.#stopper = new AbortController()
    const link = linkSignals(callerSignal, this.#stopper.signal)
    const o = this.#opts
    const run = measure(
      o.servers,
      {
        signal: link.signal,
        kiss: this.#kiss,
        ...(o.samplesPerServer !== undefined && { samplesPerServer: o.samplesPerServer }),
        ...(o.spacingMs !== undefined && { spacingMs: o.spacingMs }),
        ...(o.queryTimeoutMs !== undefined && { queryTimeoutMs: o.queryTimeoutMs }),
        ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
      },
      'background',
    ).then(
      (estimate) => {
        this.#apply(estimate)
        this.#emit({ type: 'sync', estimate })
        return estimate
      },
      (error: Error) => {
        this.#lastError = error
        this.#emit({ type: 'error', error })
        throw error
      },
    )
    this.#inflight = run.finally(() => {
      link.dispose()
      this.#inflight = undefined
    })
    return this.#inflight
  }

  /** Calls `listener` after every refresh attempt; returns the function that removes it. */
  subscribe(listener: (event: NtpClockEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #at(p: number): number {
    return this.#baseTime + (p - this.#basePerf) + this.#lag(p)
  }

  #lag(p: number): number {
    const rate = this.#opts.slewRateMsPerS ?? 5
    return Math.max(0, this.#lagAtBase - (rate * (p - this.#basePerf)) / 1000)
  }

  #apply(estimate: OffsetEstimate): void {
    const a = systemMinusMonotonic()
    const p = performance.now()
    const target = p + a + estimate.offset
    // Never hand out less than before: what cannot be stepped back is slewed.
    this.#lagAtBase = Math.max(0, this.#last - target)
    this.#baseTime = target
    this.#basePerf = p
    // The estimate is as old as its measurement; drift counts from then.
    const age = Math.max(0, localNow() - estimate.measuredAt)
    this.#syncUncertainty = estimate.uncertainty + ((this.#opts.driftPpm ?? 15) * age) / 1e6
    this.#synced = true
    this.#estimate = estimate
    this.#lastError = undefined
    this.#failures = 0
  }

  #emit(event: NtpClockEvent): void {
    const callbacks: ((e: NtpClockEvent) => void)[] = [
      (e) => (e.type === 'sync' ? this.#opts.onSync?.(e.estimate) : this.#opts.onError?.(e.error)),
      ...this.#listeners,
    ]
    for (const listener of callbacks) {
      // A listener's bug must not undo a sync or stop the refresh loop; make it visible instead.
      try {
        listener(event)
      } catch (err) {
        process.emitWarning(`NtpClock listener threw: ${(err as Error)?.message ?? err}`)
      }
    }
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#refresh().then(
        () => {
          if (this.#started) this.#schedule(this.#opts.refreshIntervalMs ?? 600_000)
        },
        () => {
          this.#failures++
          const retry = (this.#opts.retryIntervalMs ?? 30_000) * 2 ** (this.#failures - 1)
          if (this.#started)
            this.#schedule(Math.min(retry, this.#opts.refreshIntervalMs ?? 600_000))
        },
      )
    }, ms)
    this.#timer.unref()
  }
}
