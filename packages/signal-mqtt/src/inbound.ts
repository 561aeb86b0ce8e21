import { createHash } from 'node:crypto'
import type { Identity } from '@p2pd/identity'
import type { Clock, InboundSignal } from '@p2pd/interface'
import { EnvelopeDrop, openEnvelope } from './envelope.js'
import { SignalMessageError } from './errors.js'
import { validateSignalMessage } from './messages/registry.js'
import type { DropReason, SignalingMetrics } from './metrics.js'
import { PairKeys } from './pair-keys.js'
import { KeyedRateLimiter, type RateLimit, TokenBucket } from './rate-limit.js'
import { ReplayCache } from './replay-cache.js'
import { verifyStamp } from './stamp.js'

/** Settings of the receive path. */
export interface InboundOptions {
  readonly identity: Identity
  readonly clock: Clock
  readonly metrics: SignalingMetrics
  readonly log: (message: string) => void
  readonly windowMs: number
  readonly maxEnvelopeBytes: number
  readonly maxAppBodyBytes: number
  readonly replayCacheSize: number
  readonly perSender: RateLimit
  /** The budget of envelopes from strangers (no valid pair authenticator), all together. */
  readonly global: RateLimit
  /**
   * The budget of strangers' envelopes with a valid proof-of-work stamp, all together, apart
   * from {@link global}; when it runs out they spend the unstamped budget.
   */
  readonly stamped?: RateLimit
  /** Leading zero bits a stamp needs (0: stamps ignored). */
  readonly powBits?: number
  /** Keys of the peers we have talked to (shared with the sending side). */
  readonly pairKeys?: PairKeys
  /** Monotonic ms for the rate limits (default `performance.now`; tests freeze it). */
  readonly monotonic?: () => number
}

/** Which queue lane a screened envelope waits in, first served first. */
export type Lane = 'peer' | 'stamped' | 'stranger'

/** What came with an envelope besides its bytes (MQTT 5 user properties). */
export interface EnvelopeExtras {
  /** Proof-of-work stamp (`p2pd-pow`). */
  readonly pow?: string
  /** The lane a copy with this digest already waits in to be opened (queue's dedupe). */
  readonly waiting?: (digest: string) => Lane | undefined
}

/** An envelope that passed the cheap checks and is worth opening. */
export interface Screened {
  readonly raw: Uint8Array
  readonly digest: string
  /** The peer whose pair authenticator it carries, or undefined for a stranger's. */
  readonly peer: string | undefined
  readonly lane: Lane
  /**
   * Set when an unstamped copy of this envelope waits in the strangers' lane and this one
   * carries a valid stamp: the waiting copy moves to the stamped lane (the sender publishes a
   * first envelope at once, then again with its stamp).
   */
  readonly promotes?: true
}

/** A verified message with its sender stream id and sequence number. */
export interface Accepted {
  readonly signal: InboundSignal
  readonly sid: string
  readonly seq: number
}

// Bytes 2..34 of an envelope: the sealed box's ephemeral public key (after the two versions).
const EPHEMERAL_START = 2
const EPHEMERAL_END = 2 + 33

/**
 * The receive path, with no MQTT in it: raw payload in, verified message (or nothing) out, in
 * two steps so that a queue can sit between them.
 *
 * {@link screen} is cheap (hashes only): size, byte-identical copies, a reused ephemeral key
 * (a real sender never reuses one), then the lane. An envelope with a valid pair authenticator
 * comes from a peer we have talked to and only spends that peer's bucket; a forged
 * authenticator is dropped; everything else is a stranger's and spends the strangers' global
 * budget. {@link open} is the expensive part: key agreement, decryption, signature, then the
 * claimed sender, the time window, the replay cache, the sender's bucket and the schema. Drops
 * are counted and logged, never thrown.
 */
export class InboundPipeline {
  readonly pairKeys: PairKeys
  readonly #o: InboundOptions
  readonly #replay: ReplayCache
  readonly #copies: ReplayCache
  readonly #ephemeral: ReplayCache
  readonly #perSender: KeyedRateLimiter
  readonly #global: TokenBucket
  readonly #stamped: TokenBucket
  readonly #monotonic: () => number

  constructor(options: InboundOptions) {
    this.#o = options
    this.pairKeys = options.pairKeys ?? new PairKeys()
    // A message outside the window is refused anyway, so ids need remembering for twice it.
    this.#replay = new ReplayCache(options.replayCacheSize, 2 * this.#window())
    this.#copies = new ReplayCache(options.replayCacheSize, 2 * this.#window())
    this.#ephemeral = new ReplayCache(options.replayCacheSize, 2 * this.#window())
    this.#perSender = new KeyedRateLimiter(options.perSender)
    this.#monotonic = options.monotonic ?? (() => performance.now())
    this.#global = new TokenBucket(options.global, this.#monotonic())
    this.#stamped = new TokenBucket(options.stamped ?? options.global, this.#monotonic())
  }

  /** {@link screen} then {@link open}, at once. */
  accept(raw: Uint8Array, auth?: string, extras?: EnvelopeExtras): Accepted | undefined {
    const screened = this.screen(raw, auth, extras)
    return screened && this.open(screened)
  }

  /** The cheap checks; what is left is worth {@link open}ing (or undefined: dropped). */
  screen(raw: Uint8Array, auth?: string, extras: EnvelopeExtras = {}): Screened | undefined {
    const o = this.#o
    o.metrics.received++
    if (raw.length > o.maxEnvelopeBytes) return this.drop('oversize', `${raw.length} bytes`)
    // The redundant copy of a message (same bytes through another broker) and byte-exact
    // replays are recognised by hash without decrypting. Only verified envelopes are recorded,
    // so nobody can pre-empt a message by sending garbage first.
    const hash = createHash('sha256').update(raw).digest()
    const digest = hash.toString('base64')
    const wall = o.clock.now()
    if (this.#copies.has(digest, wall)) return this.drop('replayed', 'copy already received')
    // Before any budget is spent: copies of a waiting envelope must not drain a bucket — but
    // the stamped copy of an unstamped one waiting among strangers moves it ahead.
    const waiting = extras.waiting?.(digest)
    if (waiting) {
      const mono = this.#monotonic()
      if (waiting === 'stranger' && verifyStamp(hash, extras.pow, o.powBits ?? 0)) {
        o.metrics.stamped++
        if (this.#stamped.take(mono)) {
          return { raw, digest, peer: undefined, lane: 'stamped', promotes: true }
        }
      }
      return this.drop('replayed', 'copy already waiting')
    }
    if (raw.length >= EPHEMERAL_END && this.#ephemeral.has(ephemeralKey(raw), wall)) {
      return this.drop('reusedKey', 'ephemeral key already opened')
    }
    const mono = this.#monotonic()
    const check = this.pairKeys.check(auth, raw)
    if (check.kind === 'forged') return this.drop('forged', `bad authenticator for ${check.peer}`)
    if (check.kind === 'peer') {
      o.metrics.fromPeers++
      if (!this.#perSender.take(check.peer, mono)) {
        return this.drop('rateLimited', `from ${check.peer}`)
      }
      return { raw, digest, peer: check.peer, lane: 'peer' }
    }
    if (extras.pow !== undefined && verifyStamp(hash, extras.pow, o.powBits ?? 0)) {
      o.metrics.stamped++
      if (this.#stamped.take(mono)) return { raw, digest, peer: undefined, lane: 'stamped' }
    }
    if (!this.#global.take(mono)) return this.drop('globalRateLimited', 'strangers over budget')
    return { raw, digest, peer: undefined, lane: 'stranger' }
  }

  /** The expensive part: opens, verifies and checks a screened envelope. */
  open({ raw, digest, peer }: Screened): Accepted | undefined {
    const o = this.#o
    if (raw.length >= EPHEMERAL_END) this.#ephemeral.checkAndAdd(ephemeralKey(raw), o.clock.now())
    o.metrics.opened++
    let opened: ReturnType<typeof openEnvelope>
    try {
      opened = openEnvelope(o.identity, raw, o.maxEnvelopeBytes)
    } catch (err) {
      if (err instanceof EnvelopeDrop) return this.drop(err.reason, err.message)
      return this.drop('malformed', String(err))
    }
    const { from, payload } = opened
    if (peer !== undefined && from !== peer) {
      return this.drop('forged', `authenticator of ${peer} on an envelope from ${from}`)
    }
    const now = o.clock.now()
    if (Math.abs(now - payload.ts) > this.#window()) {
      return this.drop('expired', `from ${from}: ts ${payload.ts}, now ${now}`)
    }
    if (this.#replay.checkAndAdd(`${from}:${payload.id}`, now)) {
      return this.drop('replayed', `from ${from}: id ${payload.id}`)
    }
    this.#copies.checkAndAdd(digest, now)
    // A peer's envelope already spent its bucket when it was screened.
    if (peer === undefined && !this.#perSender.take(from, this.#monotonic())) {
      return this.drop('rateLimited', `from ${from}`)
    }
    const message = { type: payload.type, body: payload.body }
    try {
      validateSignalMessage(message, { maxAppBodyBytes: o.maxAppBodyBytes })
    } catch (err) {
      const unknown = err instanceof SignalMessageError && err.code === 'SIGNAL_MESSAGE_TYPE'
      return this.drop(unknown ? 'unknownType' : 'badBody', `from ${from}: ${String(err)}`)
    }
    this.pairKeys.learn(from, payload.ak)
    return { signal: { from, message, receivedAt: now }, sid: payload.sid, seq: payload.seq }
  }

  /** Counts and logs a drop. */
  drop(reason: DropReason, detail: string): undefined {
    this.#o.metrics.dropped[reason]++
    this.#o.log(`signal-mqtt: dropped (${reason}): ${detail}`)
    return undefined
  }

  /** Forgets the replay caches and rate buckets (on close). */
  clear(): void {
    this.#replay.clear()
    this.#copies.clear()
    this.#ephemeral.clear()
    this.#perSender.clear()
  }

  #window(): number {
    return this.#o.windowMs + Math.max(0, this.#o.clock.uncertainty)
  }
}

function ephemeralKey(raw: Uint8Array): string {
  return Buffer.from(raw.buffer, raw.byteOffset + EPHEMERAL_START, 33).toString('base64')
}
