import { EventEmitter } from 'node:events'
import type { Identity } from '@p2pd/identity'
import { type Clock, linkSignals, systemClock } from '@p2pd/interface'
import { NameError } from './errors.js'
import { nameFor } from './name.js'
import { type BrokerSet, type PublishResult, publishRecord } from './publish.js'
import { type NameRecord, signRecord } from './record.js'
import { MAX_RECORD_TTL_S } from './verify.js'

/** Default record lifetime: 1 hour (re-published at half-life while following a node). */
export const DEFAULT_RECORD_TTL_S = 3600

/** Settings of a {@link NamePublisher}. */
export interface NamePublisherOptions extends BrokerSet {
  /** The owner's key: the name is `<label>.<fingerprint of this key>`. */
  readonly identity: Identity
  /** The label: 1–32 of `a–z 0–9 -`, no `-` at either end. */
  readonly label: string
  /** Record lifetime in seconds (default 3600, at most 7 days, at least 60). */
  readonly ttlS?: number
  /** Skew-corrected clock for seq and expiry (default: the system clock). */
  readonly clock?: Clock
  /** Debug log sink. */
  readonly log?: (message: string) => void
}

/** The parts of a node a publisher follows (a `P2pdNode` fits). */
export interface AddressSource {
  readonly addressText: string
  on(event: 'address', listener: (address: string) => void): unknown
  off(event: 'address', listener: (address: string) => void): unknown
}

/** Events of a {@link NamePublisher}. */
export interface NamePublisherEvents {
  /** A record reached at least one broker. */
  published: [PublishResult]
  /** A background publish failed on every broker (it is retried). */
  error: [Error]
}

/**
 * Publishes signed records for one name of this node: once with {@link publish}, or
 * continuously with {@link follow}, which re-publishes when the node's address changes and
 * before the record expires (at half its lifetime). `seq` is the clock's time in ms, raised
 * past the previous one when needed, so it grows across restarts as long as the clock does.
 */
export class NamePublisher extends EventEmitter<NamePublisherEvents> {
  /** The full name, `<label>.<fingerprint>`. */
  readonly name: string
  readonly #o: NamePublisherOptions
  readonly #ttlS: number
  readonly #lifetime = linkSignals()
  #lastSeq = 0
  #chain: Promise<unknown> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #unfollow: (() => void) | undefined
  #latest: string | undefined

  constructor(options: NamePublisherOptions) {
    super()
    const ttlS = options.ttlS ?? DEFAULT_RECORD_TTL_S
    if (!Number.isInteger(ttlS) || ttlS < 60 || ttlS > MAX_RECORD_TTL_S) {
      throw new NameError(
        'NAME_OPTIONS',
        `ttlS must be a whole number of seconds in 60–${MAX_RECORD_TTL_S}`,
      )
    }
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new NameError('NAME_OPTIONS', 'a name publisher needs at least one broker')
    }
    this.#o = options
    this.#ttlS = ttlS
    this.name = nameFor(options.label, options.identity.nodeId)
  }

  /** A signed record for `address`, with the next seq (not published). */
  sign(address: string): NameRecord {
    const now = (this.#o.clock ?? systemClock).now()
    const seq = Math.max(this.#lastSeq + 1, Math.floor(now))
    this.#lastSeq = seq
    return signRecord(this.#o.identity, {
      name: this.name,
      address,
      seq,
      expires: Math.floor(now / 1000) + this.#ttlS,
    })
  }

  /**
   * Signs and publishes a record for `address` on every broker; publishes run one at a time.
   * @throws {@link NameError} `NAME_PUBLISH_FAILED` when no broker took it.
   */
  publish(address: string, options: { signal?: AbortSignal } = {}): Promise<PublishResult> {
    const run = async () => {
      const signal = linkSignals(this.#lifetime.signal, options.signal)
      try {
        const record = this.sign(address)
        const result = await publishRecord(record, {
          ...this.#o,
          signal: signal.signal,
          nowMs: (this.#o.clock ?? systemClock).now(),
        })
        this.#o.log?.(
          `names: ${this.name} seq ${record.seq} on ${result.accepted.length} broker(s)`,
        )
        this.emit('published', result)
        return result
      } finally {
        signal.dispose()
      }
    }
    const next = this.#chain.then(run, run)
    this.#chain = next.catch(() => {})
    return next
  }

  /**
   * Keeps the name pointing at `node`: publishes its address now, again on every `'address'`
   * event, and before expiry. Failures are emitted as `'error'` (when listened to) and
   * retried. Returns the first publish. Stop with {@link close}.
   */
  follow(node: AddressSource): Promise<PublishResult> {
    this.#unfollow?.()
    const onAddress = (address: string) => {
      void this.#publishLatest(address).catch(() => {})
    }
    node.on('address', onAddress)
    this.#unfollow = () => node.off('address', onAddress)
    return this.#publishLatest(node.addressText)
  }

  async #publishLatest(address: string): Promise<PublishResult> {
    this.#latest = address
    clearTimeout(this.#timer)
    try {
      const result = await this.publish(address)
      this.#schedule((this.#ttlS * 1000) / 2)
      return result
    } catch (err) {
      if (!this.#lifetime.aborted) {
        if (this.listenerCount('error') > 0) this.emit('error', err as Error)
        this.#o.log?.(`names: publishing ${this.name} failed: ${(err as Error).message}`)
        this.#schedule(Math.min(30_000, (this.#ttlS * 1000) / 4))
      }
      throw err
    }
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer)
    if (this.#lifetime.aborted || this.#latest === undefined) return
    const address = this.#latest
    this.#timer = setTimeout(() => void this.#publishLatest(address).catch(() => {}), ms)
    this.#timer.unref()
  }

  /** Stops following and aborts a publish in flight. The records stay until they expire. */
  close(): void {
    this.#unfollow?.()
    this.#unfollow = undefined
    clearTimeout(this.#timer)
    this.#lifetime.abort()
  }
}
