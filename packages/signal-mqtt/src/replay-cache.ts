/**
 * Remembers message keys for `ttlMs`, at most `maxEntries` of them (oldest forgotten first).
 * Keys arrive in roughly time order, so expiry only looks at the front of the insertion order:
 * O(1) amortised, bounded memory.
 */
export class ReplayCache {
  readonly #expiry = new Map<string, number>()

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  /** True when `key` was seen within the TTL; otherwise records it and returns false. */
  checkAndAdd(key: string, now: number): boolean {
    this.#prune(now)
    const until = this.#expiry.get(key)
    if (until !== undefined && until > now) return true
    this.#expiry.delete(key)
    this.#expiry.set(key, now + this.ttlMs)
    while (this.#expiry.size > this.maxEntries) {
      const oldest = this.#expiry.keys().next().value as string
      this.#expiry.delete(oldest)
    }
    return false
  }

  /** True when `key` was seen within the TTL (does not record it). */
  has(key: string, now: number): boolean {
    this.#prune(now)
    const until = this.#expiry.get(key)
    return until !== undefined && until > now
  }

  get size(): number {
    return this.#expiry.size
  }

  clear(): void {
    this.#expiry.clear()
  }

  #prune(now: number): void {
    for (const [key, until] of this.#expiry) {
      if (until > now) break
      this.#expiry.delete(key)
    }
  }
}
