import { TurnError } from '../errors.js'
import {
  BYTE_WINDOW_MS,
  ByteAccount,
  LruTable,
  type RateBudget,
  TokenBucket,
} from './rate-limit.js'

/**
 * Limits on what a stranger (a source not yet authenticated) can make a TURN server do.
 * Requests over a budget are dropped without a reply: a reply is what a spoofer wants.
 */
export interface TurnLimits {
  /** Requests without MESSAGE-INTEGRITY per source IP (default 20/s, burst 40). */
  readonly unauthenticated?: RateBudget
  /** Requests failing authentication per source IP (default 2/s, burst 10). */
  readonly failedAuth?: RateBudget
  /** Wrong credentials per (username, source IP) before the back-off starts (default 5). */
  readonly authFailuresBeforeBackoff?: number
  /** First back-off (default 1 s); it doubles with each further failure. */
  readonly backoffMs?: number
  /** Longest back-off (default 5 min). */
  readonly maxBackoffMs?: number
  /**
   * Bytes of unauthenticated replies per byte received, per source IP, over any 10 s window
   * (default 1: a reply never exceeds what the source sent). 0 answers no stranger at all.
   */
  readonly amplificationRatio?: number
  /** Source IPs, and (username, IP) pairs in back-off, tracked at most (default 10,000 each). */
  readonly maxTrackedSources?: number
}

const DEFAULTS = {
  unauthenticated: { perSecond: 20, burst: 40 },
  failedAuth: { perSecond: 2, burst: 10 },
  authFailuresBeforeBackoff: 5,
  backoffMs: 1000,
  maxBackoffMs: 300_000,
  amplificationRatio: 1,
  maxTrackedSources: 10_000,
} as const

/** A back-off entry is forgotten this long after its last failure. */
const FORGET_FAILURES_MS = 600_000

interface SourceState {
  readonly unauthenticated: TokenBucket
  readonly failedAuth: TokenBucket
  readonly bytes: ByteAccount
  seenAt: number
}

interface Backoff {
  failures: number
  blockedUntil: number
  lastFailureAt: number
}

/** Why a signed request may not even be checked. */
export type AuthGate = 'ok' | 'budget' | 'backoff'

/**
 * Per-source state of the limits: token buckets for unauthenticated and failed requests, the
 * byte account against amplification, and the wrong-password back-off per (username, IP).
 * Both tables are bounded (least recently seen evicted first) and swept when idle; an evicted
 * source starts again with full buckets and no byte credit.
 */
export class StrangerGuard {
  readonly #opts: Required<TurnLimits>
  readonly #now: () => number
  readonly #sources: LruTable<SourceState>
  readonly #backoffs: LruTable<Backoff>
  readonly #idleMs: number

  constructor(limits: TurnLimits = {}, now: () => number = () => performance.now()) {
    this.#opts = { ...DEFAULTS, ...stripUndefined(limits) }
    checkBudget('unauthenticated', this.#opts.unauthenticated)
    checkBudget('failedAuth', this.#opts.failedAuth)
    this.#now = now
    this.#sources = new LruTable(Math.max(1, this.#opts.maxTrackedSources))
    this.#backoffs = new LruTable(Math.max(1, this.#opts.maxTrackedSources))
    const probe = (b: RateBudget) => new TokenBucket(b, 0).refillMs
    this.#idleMs = Math.max(
      BYTE_WINDOW_MS,
      probe(this.#opts.unauthenticated),
      probe(this.#opts.failedAuth),
    )
  }

  /** Source IPs tracked now. */
  get trackedSources(): number {
    return this.#sources.size
  }

  /** (username, IP) pairs with failures on record. */
  get trackedBackoffs(): number {
    return this.#backoffs.size
  }

  #source(ip: string, now: number): SourceState {
    const s = this.#sources.touch(ip, () => ({
      unauthenticated: new TokenBucket(this.#opts.unauthenticated, now),
      failedAuth: new TokenBucket(this.#opts.failedAuth, now),
      bytes: new ByteAccount(now),
      seenAt: now,
    }))
    s.seenAt = now
    return s
  }

  /** Books a request of `bytes` from `ip` (the credit its replies may spend). */
  received(ip: string, bytes: number): void {
    const now = this.#now()
    this.#source(ip, now).bytes.received(bytes, now)
  }

  /** Takes one unauthenticated request from the budget of `ip`; false: drop it. */
  takeUnauthenticated(ip: string): boolean {
    const now = this.#now()
    return this.#source(ip, now).unauthenticated.take(now)
  }

  /** Whether a signed request of `username` from `ip` may be checked at all. */
  authGate(ip: string, username: string): AuthGate {
    const now = this.#now()
    const b = this.#backoffs.get(backoffKey(ip, username))
    if (b && b.blockedUntil > now) return 'backoff'
    return this.#source(ip, now).failedAuth.has(now) ? 'ok' : 'budget'
  }

  /** Books a failed authentication: spends the source's budget, advances the back-off. */
  authFailed(ip: string, username: string): void {
    const now = this.#now()
    this.#source(ip, now).failedAuth.take(now)
    const b = this.#backoffs.touch(backoffKey(ip, username), () => ({
      failures: 0,
      blockedUntil: 0,
      lastFailureAt: now,
    }))
    b.failures++
    b.lastFailureAt = now
    const over = b.failures - this.#opts.authFailuresBeforeBackoff
    if (over >= 0) {
      const wait = this.#opts.backoffMs * 2 ** Math.min(over, 30)
      b.blockedUntil = now + Math.min(this.#opts.maxBackoffMs, wait)
    }
  }

  /** A success clears the failures of (username, IP). */
  authSucceeded(ip: string, username: string): void {
    this.#backoffs.delete(backoffKey(ip, username))
  }

  /** Milliseconds (username, IP) is still blocked for (0: not blocked). */
  backoffRemainingMs(ip: string, username: string): number {
    const b = this.#backoffs.get(backoffKey(ip, username))
    return b ? Math.max(0, b.blockedUntil - this.#now()) : 0
  }

  /** Books an unauthenticated reply of `bytes` to `ip` when its byte budget allows it. */
  mayReply(ip: string, bytes: number): boolean {
    const now = this.#now()
    return this.#source(ip, now).bytes.trySend(bytes, this.#opts.amplificationRatio, now)
  }

  /** Forgets sources idle long enough to equal fresh ones, and stale failure records. */
  sweep(): void {
    const now = this.#now()
    this.#sources.sweep((s) => now - s.seenAt > this.#idleMs)
    this.#backoffs.sweep((b) => now - b.lastFailureAt > FORGET_FAILURES_MS)
  }

  clear(): void {
    this.#sources.clear()
    this.#backoffs.clear()
  }
}

const backoffKey = (ip: string, username: string) => `${ip}\n${username}`

function checkBudget(name: string, b: RateBudget): void {
  if (!(b.perSecond > 0) || !(b.burst >= 1)) {
    throw new TurnError('TURN_BAD_INPUT', `limits.${name}: perSecond must be > 0 and burst ≥ 1`)
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
