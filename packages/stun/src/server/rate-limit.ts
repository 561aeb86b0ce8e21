/** Token-bucket limits per source IP. */
export interface RateLimitOptions {
  /** Sustained requests per second per source IP. */
  readonly perSecond: number
  /** Bucket size: requests allowed in a burst. */
  readonly burst: number
  /** Most source IPs tracked; beyond it the table is reset (bounded memory). Default 10,000. */
  readonly maxSources?: number
}

interface Bucket {
  tokens: number
  at: number
}

/** Per-IP token buckets with lazily computed refill; memory bounded by `maxSources`. */
export class RateLimiter {
  readonly #opts: RateLimitOptions
  readonly #now: () => number
  #buckets = new Map<string, Bucket>()

  constructor(opts: RateLimitOptions, now: () => number = () => performance.now()) {
    this.#opts = opts
    this.#now = now
  }

  /** True when a request from `ip` may be answered now (and takes a token). */
  allow(ip: string): boolean {
    const now = this.#now()
    let b = this.#buckets.get(ip)
    if (!b) {
      if (this.#buckets.size >= (this.#opts.maxSources ?? 10_000)) this.#buckets = new Map()
      b = { tokens: this.#opts.burst, at: now }
      this.#buckets.set(ip, b)
    } else {
      b.tokens = Math.min(this.#opts.burst, b.tokens + ((now - b.at) / 1000) * this.#opts.perSecond)
      b.at = now
    }
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}
