/** A sustained rate and a burst, in requests. */
export interface RateBudget {
  /** Requests per second, sustained. */
  readonly perSecond: number
  /** Requests allowed at once (the bucket size). */
  readonly burst: number
}

/** One token bucket; refilled lazily from the elapsed time. */
export class TokenBucket {
  #tokens: number
  #at: number

  constructor(
    readonly budget: RateBudget,
    now: number,
  ) {
    this.#tokens = budget.burst
    this.#at = now
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#at)
    this.#tokens = Math.min(
      this.budget.burst,
      this.#tokens + (elapsed / 1000) * this.budget.perSecond,
    )
    this.#at = now
  }

  /** True when a token is there (without taking it). */
  has(now: number): boolean {
    this.#refill(now)
    return this.#tokens >= 1
  }

  /** Takes a token; false (nothing taken) when the bucket is empty. */
  take(now: number): boolean {
    this.#refill(now)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Milliseconds until the bucket is full again (after which it equals a fresh one). */
  get refillMs(): number {
    return (this.budget.burst / this.budget.perSecond) * 1000
  }
}

const SLOT_MS = 1000
/** Sent bytes are summed over 11 one-second slots: every 10 s window ending now is covered. */
const DEBIT_SLOTS = 11
/** Received bytes are summed over 9 slots only: those lie wholly inside any such window. */
const CREDIT_SLOTS = 9
/** How long a byte account matters: after this, an idle account equals a fresh one. */
export const BYTE_WINDOW_MS = DEBIT_SLOTS * SLOT_MS

/**
 * Bytes received from and sent to one source, per one-second slot. A reply may be sent when
 * the bytes sent over the last 11 slots plus the reply stay within `ratio` × the bytes received
 * over the last 9: conservative on both sides, so the bytes sent in any 10 s window ending at
 * a reply never exceed `ratio` × the bytes received in it.
 */
export class ByteAccount {
  readonly #in = new Float64Array(DEBIT_SLOTS)
  readonly #out = new Float64Array(DEBIT_SLOTS)
  #slot: number

  constructor(now: number) {
    this.#slot = Math.floor(now / SLOT_MS)
  }

  #advance(now: number): number {
    const slot = Math.floor(now / SLOT_MS)
    const steps = Math.min(DEBIT_SLOTS, slot - this.#slot)
    for (let i = 1; i <= steps; i++) {
      const idx = (this.#slot + i) % DEBIT_SLOTS
      this.#in[idx] = 0
      this.#out[idx] = 0
    }
    if (slot > this.#slot) this.#slot = slot
    return this.#slot
  }

  received(bytes: number, now: number): void {
    const idx = this.#advance(now) % DEBIT_SLOTS
    this.#in[idx] = (this.#in[idx] as number) + bytes
  }

  /** Books `bytes` as sent when the budget allows; false (nothing booked) when it does not. */
  trySend(bytes: number, ratio: number, now: number): boolean {
    const slot = this.#advance(now)
    let credit = 0
    let debit = 0
    for (let k = 0; k < DEBIT_SLOTS; k++) {
      const idx = (slot - k + DEBIT_SLOTS * 2) % DEBIT_SLOTS
      if (k < CREDIT_SLOTS) credit += this.#in[idx] as number
      debit += this.#out[idx] as number
    }
    if (debit + bytes > credit * ratio) return false
    const idx = slot % DEBIT_SLOTS
    this.#out[idx] = (this.#out[idx] as number) + bytes
    return true
  }
}

/**
 * A map bounded to `max` entries, least recently used first: touching an entry moves it to
 * the end, a new entry beyond `max` evicts the oldest. Spoofed sources can churn it but never
 * grow it.
 */
export class LruTable<V> {
  readonly #map = new Map<string, V>()

  constructor(readonly max: number) {}

  get size(): number {
    return this.#map.size
  }

  get(key: string): V | undefined {
    return this.#map.get(key)
  }

  /** The entry of `key` (made by `create` when missing), now the most recently used. */
  touch(key: string, create: () => V): V {
    let value = this.#map.get(key)
    if (value === undefined) {
      value = create()
      if (this.#map.size >= this.max) {
        const oldest = this.#map.keys().next()
        if (!oldest.done) this.#map.delete(oldest.value)
      }
    } else this.#map.delete(key)
    this.#map.set(key, value)
    return value
  }

  delete(key: string): void {
    this.#map.delete(key)
  }

  /** Drops entries from the least recently used end while `expired` holds. */
  sweep(expired: (value: V) => boolean): void {
    for (const [key, value] of this.#map) {
      if (!expired(value)) return
      this.#map.delete(key)
    }
  }

  clear(): void {
    this.#map.clear()
  }
}
