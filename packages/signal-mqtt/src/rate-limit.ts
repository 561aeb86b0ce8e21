/** A token-bucket limit: `rate` tokens per second, at most `burst` saved up. */
export interface RateLimit {
  readonly rate: number
  readonly burst: number
}

/** One token bucket (time in ms from a monotonic clock). */
export class TokenBucket {
  #tokens: number
  #last: number

  constructor(
    readonly limit: RateLimit,
    now: number,
  ) {
    this.#tokens = limit.burst
    this.#last = now
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.#last)
    this.#last = now
    this.#tokens = Math.min(this.limit.burst, this.#tokens + (elapsed * this.limit.rate) / 1000)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/**
 * One bucket per key (sender node ID), for at most `maxKeys` keys: the least recently used
 * key is forgotten first, so memory stays bounded however many senders show up.
 */
export class KeyedRateLimiter {
  readonly #buckets = new Map<string, TokenBucket>()

  constructor(
    readonly limit: RateLimit,
    readonly maxKeys = 10_000,
  ) {}

  take(key: string, now: number): boolean {
    let bucket = this.#buckets.get(key)
    if (bucket) this.#buckets.delete(key)
    else bucket = new TokenBucket(this.limit, now)
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > this.maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value as string)
    }
    return bucket.take(now)
  }

  clear(): void {
    this.#buckets.clear()
  }
}
