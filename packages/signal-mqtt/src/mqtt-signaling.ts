import { createHash, randomBytes } from 'node:crypto'
import { type Identity, isNodeId } from '@p2pd/identity'
import {
  abortReason,
  type Clock,
  Deadline,
  type InboundSignal,
  type SignalHandler,
  type Signaling,
  type SignalMessage,
  type SignalTarget,
  systemClock,
  throwIfAborted,
} from '@p2pd/interface'
import {
  BrokerConnection,
  type BrokerHealth,
  type EnvelopeProperties,
} from './broker-connection.js'
import { brokerOrder } from './broker-order.js'
import { DEFAULT_BROKERS, isBrokerUrl } from './brokers.js'
import { newMessageId, PAYLOAD_VERSION, sealEnvelope } from './envelope.js'
import { SignalingError, SignalMessageError } from './errors.js'
import { type Accepted, InboundPipeline } from './inbound.js'
import { INBOUND_QUEUE_DEFAULTS, InboundQueue } from './inbound-queue.js'
import { validateSignalMessage } from './messages/registry.js'
import { emptyMetrics, type SignalingMetrics } from './metrics.js'
import { type MqttSignalingOptions, SIGNALING_DEFAULTS } from './options.js'
import { PairKeys } from './pair-keys.js'
import type { RateLimit } from './rate-limit.js'
import { ReorderBuffer } from './reorder.js'
import { MAX_POW_BITS, mintStamp } from './stamp.js'

type Settings = Required<Omit<MqttSignalingOptions, 'connectTo' | 'mqttOptions'>> &
  Pick<MqttSignalingOptions, 'mqttOptions'> & { readonly connectTo: readonly number[] }

/**
 * {@link Signaling} over MQTT: several brokers at once, every message sealed (signed by us,
 * encrypted to the recipient) and published through `redundancy` brokers the recipient
 * listens on. See the package README for the envelope, the routing rules and the security
 * properties.
 */
export class MqttSignaling implements Signaling {
  /** Our node ID (the identity's). */
  readonly nodeId: string
  /** The topic we subscribe to on every broker: `<topicPrefix><nodeId>`. */
  readonly topic: string
  /** The broker list; an index is a signal offset. */
  readonly brokers: readonly string[]
  /** Counters of what was received, delivered, published and dropped. */
  readonly metrics: SignalingMetrics = emptyMetrics()
  readonly #s: Settings
  readonly #identity: Identity
  readonly #clock: Clock
  readonly #handlers = new Set<SignalHandler>()
  readonly #inbound: InboundQueue
  readonly #pairKeys = new PairKeys()
  readonly #changes = new Set<() => void>()
  readonly #reorder: ReorderBuffer
  /** Our stream id, and the next sequence number per recipient (bounded, LRU). */
  readonly #streamId = randomBytes(8).toString('hex')
  readonly #nextSeq = new Map<string, number>()
  /** Stamped copies being minted, per peer (given up when the peer writes to us). */
  readonly #minting = new Map<string, Set<Deadline>>()
  /** Aborted on close: stops the stamped copies still being minted. */
  readonly #lifetime = new AbortController()
  #connections: BrokerConnection[] = []
  #state: 'idle' | 'starting' | 'started' | 'closed' = 'idle'
  #starting: Promise<void> | undefined

  constructor(options: MqttSignalingOptions) {
    this.#s = settingsOf(options)
    this.#identity = options.identity
    this.#clock = this.#s.clock
    this.nodeId = options.identity.nodeId
    this.brokers = this.#s.brokers
    this.topic = `${this.#s.topicPrefix}${this.nodeId}`
    const pipeline = new InboundPipeline({
      identity: this.#identity,
      clock: this.#clock,
      metrics: this.metrics,
      log: this.#s.log,
      windowMs: this.#s.windowMs,
      maxEnvelopeBytes: this.#s.maxEnvelopeBytes,
      maxAppBodyBytes: this.#s.maxAppBodyBytes,
      replayCacheSize: this.#s.replayCacheSize,
      perSender: this.#s.perSenderRate,
      global: this.#s.globalRate,
      stamped: this.#s.stampedRate,
      powBits: this.#s.powBits,
      pairKeys: this.#pairKeys,
    })
    this.#reorder = new ReorderBuffer(this.#s.reorderHoldMs, (m) => this.#deliver(m))
    const deliver = (accepted: Accepted) => {
      if (this.#state === 'closed') return
      this.#heardFrom(accepted.signal.from)
      this.#reorder.push(accepted.sid, accepted.seq, accepted.signal)
    }
    // Strangers' lanes hold one burst of their budget (within bounds: memory is ≤ 16 KiB each).
    const lane = (limit: RateLimit) => Math.min(1_024, Math.max(64, Math.ceil(limit.burst)))
    this.#inbound = new InboundQueue(pipeline, deliver, {
      ...INBOUND_QUEUE_DEFAULTS,
      maxStrangerPending: lane(this.#s.globalRate),
      maxStampedPending: lane(this.#s.stampedRate),
    })
  }

  /** Offsets of the brokers we are connected and subscribed to right now, in `connectTo` order. */
  get offsets(): readonly number[] {
    return this.#connections.filter((c) => c.subscribed).map((c) => c.offset)
  }

  /** Health of every broker we use (connected or trying to be). */
  health(): BrokerHealth[] {
    return this.#connections.map((c) => c.health())
  }

  /**
   * Connects to the brokers and subscribes to our topic on each. Resolves once `quorum`
   * brokers are subscribed; the others keep connecting in the background. On deadline or
   * abort every connection is closed again and the typed reason is thrown.
   */
  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === 'closed') {
      return Promise.reject(new SignalingError('SIGNALING_CLOSED', 'signaling is closed'))
    }
    if (this.#state === 'started') return Promise.resolve()
    this.#starting ??= this.#start(options.signal).finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async #start(callerSignal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(callerSignal)
    this.#state = 'starting'
    const deadline = new Deadline(this.#s.startTimeoutMs, callerSignal, 'signaling start')
    const signal = deadline.signal
    this.#connections = this.#s.connectTo.map(
      (offset) =>
        new BrokerConnection({
          offset,
          url: this.#s.brokers[offset] as string,
          topic: this.topic,
          clientId: `p2pd-${randomBytes(8).toString('hex')}`,
          connectTimeoutMs: this.#s.connectTimeoutMs,
          keepaliveSec: this.#s.keepaliveSec,
          reconnectMinMs: this.#s.reconnectMinMs,
          reconnectMaxMs: this.#s.reconnectMaxMs,
          mqttOptions: this.#s.mqttOptions,
          onMessage: (payload, properties) => this.#receive(payload, properties),
          onChange: () => {
            for (const notify of [...this.#changes]) notify()
          },
          log: this.#s.log,
        }),
    )
    for (const c of this.#connections) c.start()
    const quorum = Math.min(this.#s.quorum, this.#connections.length)
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (this.#state === 'closed') {
            done()
            reject(new SignalingError('SIGNALING_CLOSED', 'closed while starting'))
          } else if (this.offsets.length >= quorum) {
            done()
            resolve()
          }
        }
        const onAbort = () => {
          done()
          const reason = abortReason(signal)
          const why = this.health()
            .map((h) => `${h.url}: ${h.lastError ?? h.state}`)
            .join('; ')
          const got = this.offsets.length
          reason.message = `${reason.message}: ${quorum} broker(s) needed, ${got} subscribed (${why})`
          reject(reason)
        }
        const done = () => {
          this.#changes.delete(check)
          signal.removeEventListener('abort', onAbort)
        }
        this.#changes.add(check)
        signal.addEventListener('abort', onAbort, { once: true })
        if (signal.aborted) onAbort()
        else check()
      })
    } catch (err) {
      if ((this.#state as string) !== 'closed') {
        this.#state = 'idle'
        const connections = this.#connections
        this.#connections = []
        await Promise.allSettled(connections.map((c) => c.close()))
      }
      throw err
    } finally {
      deadline.dispose()
    }
    this.#state = 'started'
  }

  /**
   * Seals `message` to `to.nodeId` and publishes it (QoS 1, message expiry) through up to
   * `redundancy` brokers: those of `to.signal` we are connected to, healthiest first; when
   * `to.signal` is absent or shares no connected broker with us, through our own healthiest
   * brokers (the recipient may listen there too). Resolves on the first PUBACK. Our first
   * envelopes to a peer that has not written to us yet are published at once and again, the
   * same bytes, with a proof-of-work stamp once it is minted (tens of ms of CPU off the event
   * loop; see the README, Floods): a receiver that is not flooded opens the first copy and
   * drops the second as a copy, a flooded one lets the stamped copy through.
   * @throws {@link SignalingError}, or the typed abort/deadline reason.
   */
  async publish(
    to: SignalTarget,
    message: SignalMessage,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    throwIfAborted(options.signal)
    if (this.#state === 'closed')
      throw new SignalingError('SIGNALING_CLOSED', 'signaling is closed')
    if (this.#state !== 'started') {
      throw new SignalingError('SIGNALING_NOT_STARTED', 'call start() first')
    }
    if (!isNodeId(to?.nodeId)) {
      throw new SignalingError('SIGNALING_BAD_TARGET', 'recipient is not a public-key node ID')
    }
    try {
      validateSignalMessage(message, { maxAppBodyBytes: this.#s.maxAppBodyBytes })
    } catch (err) {
      if (!(err instanceof SignalMessageError)) throw err
      throw new SignalingError('SIGNALING_BAD_MESSAGE', err.message, { cause: err })
    }
    const envelope = sealEnvelope(
      this.#identity,
      to.nodeId,
      {
        v: PAYLOAD_VERSION,
        id: newMessageId(),
        ts: Math.round(this.#clock.now()),
        from: this.nodeId,
        sid: this.#streamId,
        seq: this.#sequence(to.nodeId),
        type: message.type,
        body: message.body,
        ak: this.#pairKeys.keyFor(to.nodeId),
      },
      this.#s.maxEnvelopeBytes,
    )
    const auth = this.#pairKeys.authenticate(to.nodeId, envelope)
    const topic = `${this.#s.topicPrefix}${to.nodeId}`
    const payload = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength)
    const deadline = new Deadline(this.#s.publishTimeoutMs, options.signal, 'signaling publish')
    // Counted before publishing, so concurrent first messages stamp no more than the cap.
    const stamp = this.#s.powBits > 0 && this.#pairKeys.wantsStamp(to.nodeId)
    if (stamp) this.#pairKeys.stamped(to.nodeId)
    try {
      const routes = this.#route(to)
      if (routes.length === 0) {
        throw new SignalingError('SIGNALING_NO_BROKER', 'no broker is connected')
      }
      const acked = Promise.any(
        routes.map((c) => c.publish(topic, payload, this.#s.messageExpirySec, { auth })),
      )
      await deadline.race(acked)
    } catch (err) {
      this.metrics.publishFailed++
      if (err instanceof AggregateError) {
        throw new SignalingError(
          'SIGNALING_PUBLISH_FAILED',
          `no broker acknowledged: ${err.errors.map((e) => String(e)).join('; ')}`,
          { cause: err },
        )
      }
      throw err
    } finally {
      deadline.dispose()
    }
    this.metrics.published++
    if (stamp) void this.#publishStamped(to, topic, payload, auth)
  }

  /**
   * The stamped copy of a first envelope to `to.nodeId` (see {@link publish}): minted off the
   * event loop, then published like the original. Never throws; given up when the peer writes
   * to us first (it opened the unstamped copy), on close, or after `publishTimeoutMs`.
   */
  async #publishStamped(
    to: SignalTarget,
    topic: string,
    payload: Buffer,
    auth: string,
  ): Promise<void> {
    const peer = to.nodeId
    const deadline = new Deadline(this.#s.publishTimeoutMs, this.#lifetime.signal, 'stamp')
    const pending = this.#minting.get(peer) ?? new Set<Deadline>()
    this.#minting.set(peer, pending)
    pending.add(deadline)
    try {
      const digest = createHash('sha256').update(payload).digest()
      const pow = await mintStamp(digest, this.#s.powBits, deadline.signal)
      this.metrics.stampsMinted++
      if (this.#pairKeys.knows(peer) || this.#state !== 'started') return
      const routes = this.#route(to)
      await deadline.race(
        Promise.any(
          routes.map((c) => c.publish(topic, payload, this.#s.messageExpirySec, { auth, pow })),
        ),
      )
    } catch {
      // The unstamped copy was acknowledged already; the stamped one is a bonus.
    } finally {
      deadline.dispose()
      pending.delete(deadline)
      if (pending.size === 0 && this.#minting.get(peer) === pending) this.#minting.delete(peer)
    }
  }

  /** A peer wrote to us: it knows our key, so its pending stamps are not needed any more. */
  #heardFrom(peer: string): void {
    const pending = this.#minting.get(peer)
    if (!pending || !this.#pairKeys.knows(peer)) return
    this.#minting.delete(peer)
    this.metrics.stampsSkipped += pending.size
    for (const d of pending) d.abort()
  }

  #sequence(recipient: string): number {
    const seq = this.#nextSeq.get(recipient) ?? 0
    this.#nextSeq.delete(recipient)
    this.#nextSeq.set(recipient, seq + 1)
    if (this.#nextSeq.size > 10_000) {
      this.#nextSeq.delete(this.#nextSeq.keys().next().value as string)
    }
    return seq
  }

  #route(to: SignalTarget): BrokerConnection[] {
    const usable = this.#connections
      .filter((c) => c.connected)
      .sort((a, b) => healthRank(a.health()) - healthRank(b.health()))
    const wanted = new Set(to.signal ?? [])
    const shared = usable.filter((c) => wanted.has(c.offset))
    return (shared.length > 0 ? shared : usable).slice(0, this.#s.redundancy)
  }

  #receive(payload: Buffer, properties: EnvelopeProperties): void {
    if (this.#state === 'closed') return
    this.#inbound.push(payload, properties.auth, properties.pow)
  }

  #deliver(inbound: InboundSignal): void {
    if (this.#state === 'closed') return
    this.metrics.delivered++
    for (const handler of [...this.#handlers]) {
      try {
        handler(inbound)
      } catch (err) {
        // A throwing handler must not stop delivery to the others.
        this.#s.log(`signal-mqtt: a handler threw: ${String(err)}`)
      }
    }
  }

  subscribe(handler: SignalHandler): () => void {
    this.#handlers.add(handler)
    return () => {
      this.#handlers.delete(handler)
    }
  }

  /** Closes every broker connection and forgets handlers; idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#lifetime.abort()
    this.#minting.clear()
    this.#inbound.close()
    for (const notify of [...this.#changes]) notify()
    const connections = this.#connections
    this.#connections = []
    await Promise.allSettled(connections.map((c) => c.close()))
    this.#handlers.clear()
    this.#inbound.pipeline.clear()
    this.#pairKeys.clear()
    this.#reorder.clear()
  }
}

/** Lower is better: failing brokers last, then by round trip. */
function healthRank(h: BrokerHealth): number {
  return h.failures * 1e6 + (h.rttMs ?? 1e5)
}

function settingsOf(options: MqttSignalingOptions): Settings {
  const bad = (why: string): never => {
    throw new SignalingError('SIGNALING_BAD_OPTIONS', why)
  }
  if (!options?.identity || !isNodeId(options.identity.nodeId)) bad('identity is required')
  const brokers = [...(options.brokers ?? DEFAULT_BROKERS)]
  if (brokers.length === 0) bad('the broker list is empty')
  for (const url of brokers) if (!isBrokerUrl(url)) bad(`not an mqtt/mqtts/ws/wss URL: ${url}`)
  const d = SIGNALING_DEFAULTS
  const positive = (name: string, v: number | undefined, fallback: number): number => {
    const value = v ?? fallback
    if (!Number.isFinite(value) || value <= 0) bad(`${name} must be a positive number`)
    return value
  }
  const maxBrokers = positive('maxBrokers', options.maxBrokers, d.maxBrokers)
  const connectTo = options.connectTo
    ? [...new Set(options.connectTo)]
    : brokerOrder(options.identity.nodeId, brokers.length).slice(0, maxBrokers)
  if (connectTo.length === 0) bad('connectTo is empty')
  for (const o of connectTo) {
    if (!Number.isInteger(o) || o < 0 || o >= brokers.length) bad(`no broker at offset ${o}`)
  }
  const rate = (name: string, r: { rate: number; burst: number } | undefined, f: RateLimit) => ({
    rate: positive(`${name}.rate`, r?.rate, f.rate),
    burst: positive(`${name}.burst`, r?.burst, f.burst),
  })
  return {
    identity: options.identity,
    brokers,
    connectTo,
    maxBrokers,
    redundancy: positive('redundancy', options.redundancy, d.redundancy),
    quorum: positive('quorum', options.quorum, d.quorum),
    clock: options.clock ?? systemClock,
    log: options.log ?? (() => {}),
    topicPrefix: options.topicPrefix ?? d.topicPrefix,
    startTimeoutMs: positive('startTimeoutMs', options.startTimeoutMs, d.startTimeoutMs),
    publishTimeoutMs: positive('publishTimeoutMs', options.publishTimeoutMs, d.publishTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, d.connectTimeoutMs),
    keepaliveSec: positive('keepaliveSec', options.keepaliveSec, d.keepaliveSec),
    reconnectMinMs: positive('reconnectMinMs', options.reconnectMinMs, d.reconnectMinMs),
    reconnectMaxMs: positive('reconnectMaxMs', options.reconnectMaxMs, d.reconnectMaxMs),
    messageExpirySec: positive('messageExpirySec', options.messageExpirySec, d.messageExpirySec),
    windowMs: positive('windowMs', options.windowMs, d.windowMs),
    maxEnvelopeBytes: positive('maxEnvelopeBytes', options.maxEnvelopeBytes, d.maxEnvelopeBytes),
    maxAppBodyBytes: positive('maxAppBodyBytes', options.maxAppBodyBytes, d.maxAppBodyBytes),
    replayCacheSize: positive('replayCacheSize', options.replayCacheSize, d.replayCacheSize),
    reorderHoldMs: positive('reorderHoldMs', options.reorderHoldMs, d.reorderHoldMs),
    perSenderRate: rate('perSenderRate', options.perSenderRate, d.perSenderRate),
    globalRate: rate('globalRate', options.globalRate, d.globalRate),
    stampedRate: rate('stampedRate', options.stampedRate, d.stampedRate),
    powBits: powBitsOf(options.powBits ?? d.powBits, bad),
    mqttOptions: options.mqttOptions,
  }
}

function powBitsOf(bits: number, bad: (why: string) => never): number {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_POW_BITS) {
    bad(`powBits must be an integer from 0 to ${MAX_POW_BITS}`)
  }
  return bits
}

/**
 * A {@link Signaling} over MQTT for `identity` — what a node takes as its `signaling` option:
 * `signaling: (identity) => mqttSignaling({ identity, brokers })`.
 */
export function mqttSignaling(options: MqttSignalingOptions): MqttSignaling {
  return new MqttSignaling(options)
}
