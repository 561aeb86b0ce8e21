import { NtpError } from './errors.js'

export interface KissTrackerOptions {
  /** First back-off after a RATE kiss (default 64 s, the NTP minimum poll); doubles each time. */
  rateBackoffMs?: number
  /** Ceiling of the RATE back-off (default 1 h). */
  maxBackoffMs?: number
}

/**
 * Remembers Kiss-o'-Death packets so they are honoured (RFC 5905 §7.4): after `DENY` or `RSTR`
 * a server is never asked again; after `RATE` it is left alone for a back-off that doubles
 * with every further RATE. Share one tracker between measurements (an `NtpClock` does).
 */
export class KissTracker {
  readonly #barred = new Map<string, string>()
  readonly #backoff = new Map<string, { until: number; intervalMs: number }>()
  readonly #rateBackoffMs: number
  readonly #maxBackoffMs: number

  constructor(options: KissTrackerOptions = {}) {
    this.#rateBackoffMs = options.rateBackoffMs ?? 64_000
    this.#maxBackoffMs = options.maxBackoffMs ?? 3_600_000
  }

  /** Records a kiss from `server` (its key). Unknown codes are not acted on. */
  record(server: string, kissCode: string, now: number = Date.now()): void {
    if (kissCode === 'DENY' || kissCode === 'RSTR') {
      this.#barred.set(server, kissCode)
    } else if (kissCode === 'RATE') {
      const prev = this.#backoff.get(server)
      const intervalMs = prev
        ? Math.min(prev.intervalMs * 2, this.#maxBackoffMs)
        : this.#rateBackoffMs
      this.#backoff.set(server, { until: now + intervalMs, intervalMs })
    }
  }

  /** `undefined` if `server` may be asked now, else the error saying why not. */
  check(server: string, now: number = Date.now()): NtpError | undefined {
    const code = this.#barred.get(server)
    if (code) return new NtpError('NTP_SERVER_BARRED', `${server} sent Kiss-o'-Death ${code}`)
    const b = this.#backoff.get(server)
    if (b && now < b.until) {
      return new NtpError(
        'NTP_SERVER_BARRED',
        `${server} asked us to slow down (RATE); next query in ${Math.ceil(b.until - now)} ms`,
      )
    }
    return undefined
  }

  /** Servers that will never be asked again, with the kiss code that barred them. */
  get barred(): ReadonlyMap<string, string> {
    return this.#barred
  }
}
