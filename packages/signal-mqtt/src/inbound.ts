import { createHash } from 'node:crypto'
import type { Identity } from '@p2pd/identity'
import type { Clock, InboundSignal } from '@p2pd/interface'
import { EnvelopeDrop, openEnvelope } from './envelope.js'
import { SignalMessageError } from './errors.js'
import { validateSignalMessage } from './messages/registry.js'
import type { DropReason, SignalingMetrics } from './metrics.js'
import { KeyedRateLimiter, type RateLimit, TokenBucket } from './rate-limit.js'
import { ReplayCache } from './replay-cache.js'

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
  readonly global: RateLimit
  /** Monotonic ms for the rate limits (default `performance.now`; tests freeze it). */
  readonly monotonic?: () => number
}

/**
 * The receive path, with no MQTT in it: raw payload in, verified message (or nothing) out.
 * Cheap checks run first — size, byte-identical copies, then the global rate cap — so that a
 * flood costs no decryption; then the sealed box (decrypt + signature), the claimed sender,
 * the time window, the replay cache, the per-sender bucket and the message schema. Drops are
 * counted and logged, never thrown.
 */
export class InboundPipeline {
  readonly #o: InboundOptions
  readonly #replay: ReplayCache
  readonly #copies: ReplayCache
  readonly #perSender: KeyedRateLimiter
  readonly #global: TokenBucket
  readonly #monotonic: () => number

  constructor(options: InboundOptions) {
    this.#o = options
    // A message outside the window is refused anyway, so ids need remembering for twice it.
    this.#replay = new ReplayCache(options.replayCacheSize, 2 * this.#window())
    this.#copies = new ReplayCache(options.replayCacheSize, 2 * this.#window())
    this.#perSender = new KeyedRateLimiter(options.perSender)
    this.#monotonic = options.monotonic ?? (() => performance.now())
    this.#global = new TokenBucket(options.global, this.#monotonic())
  }

  /**
   * Checks one raw MQTT payload; the verified message with its sender stream id and sequence
   * number, or `undefined` when dropped.
   */
  accept(raw: Uint8Array): { signal: InboundSignal; sid: string; seq: number } | undefined {
    const o = this.#o
    o.metrics.received++
    if (raw.length > o.maxEnvelopeBytes) return this.#drop('oversize', `${raw.length} bytes`)
    // The redundant copy of a message (same bytes through another broker) and byte-exact
    // replays are recognised by hash without decrypting. Only verified envelopes are recorded,
    // so nobody can pre-empt a message by sending garbage first.
    const digest = createHash('sha256').update(raw).digest('base64')
    const wall = o.clock.now()
    if (this.#copies.has(digest, wall)) return this.#drop('replayed', 'copy already received')
    const mono = this.#monotonic()
    if (!this.#global.take(mono)) return this.#drop('globalRateLimited', 'global cap')
    let opened: ReturnType<typeof openEnvelope>
    try {
      opened = openEnvelope(o.identity, raw, o.maxEnvelopeBytes)
    } catch (err) {
      if (err instanceof EnvelopeDrop) return this.#drop(err.reason, err.message)
      return this.#drop('malformed', String(err))
    }
    const { from, payload } = opened
    const now = o.clock.now()
    if (Math.abs(now - payload.ts) > this.#window()) {
      return this.#drop('expired', `from ${from}: ts ${payload.ts}, now ${now}`)
    }
    if (this.#replay.checkAndAdd(`${from}:${payload.id}`, now)) {
      return this.#drop('replayed', `from ${from}: id ${payload.id}`)
    }
    this.#copies.checkAndAdd(digest, wall)
    if (!this.#perSender.take(from, mono)) return this.#drop('rateLimited', `from ${from}`)
    const message = { type: payload.type, body: payload.body }
    try {
      validateSignalMessage(message, { maxAppBodyBytes: o.maxAppBodyBytes })
    } catch (err) {
      const unknown = err instanceof SignalMessageError && err.code === 'SIGNAL_MESSAGE_TYPE'
      return this.#drop(unknown ? 'unknownType' : 'badBody', `from ${from}: ${String(err)}`)
    }
    return { signal: { from, message, receivedAt: now }, sid: payload.sid, seq: payload.seq }
  }

  /** Forgets the replay cache and rate buckets (on close). */
  clear(): void {
    this.#replay.clear()
    this.#copies.clear()
    this.#perSender.clear()
  }

  #window(): number {
    return this.#o.windowMs + Math.max(0, this.#o.clock.uncertainty)
  }

  #drop(reason: DropReason, detail: string): undefined {
    this.#o.metrics.dropped[reason]++
    this.#o.log(`signal-mqtt: dropped (${reason}): ${detail}`)
    return undefined
  }
}
