import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { AUTH_PROPERTY } from './pair-keys.js'
import { POW_PROPERTY } from './stamp.js'

/** What we attach to an envelope as MQTT 5 user properties (3.1.1 carries none). */
export interface EnvelopeProperties {
  /** Pair authenticator (`p2pd-auth`). */
  readonly auth?: string
  /** Proof-of-work stamp (`p2pd-pow`). */
  readonly pow?: string
}

/** Where one broker connection stands. */
export type BrokerState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed'

/** Health of one broker, as {@link MqttSignaling.health} reports it. */
export interface BrokerHealth {
  /** Index in the broker list (the signal offset). */
  readonly offset: number
  readonly url: string
  readonly state: BrokerState
  /** Connected and subscribed to our topic: messages to us flow through it. */
  readonly subscribed: boolean
  /** MQTT protocol level in use: 5, or 4 (3.1.1) after the broker refused 5. */
  readonly protocolVersion: 4 | 5
  /** Smoothed round trip of CONNACKs and PUBACKs, in ms (undefined before the first). */
  readonly rttMs: number | undefined
  /** Failed connects and publishes since the last success. */
  readonly failures: number
  readonly totalFailures: number
  /** Successful connects so far. */
  readonly connects: number
  /** `Date.now()` of the last successful connect. */
  readonly lastConnectedAt: number | undefined
  readonly lastError: string | undefined
}

/** Settings of one {@link BrokerConnection}. */
export interface BrokerConnectionOptions {
  readonly offset: number
  readonly url: string
  /** The topic to subscribe to (ours). */
  readonly topic: string
  readonly clientId: string
  readonly connectTimeoutMs: number
  readonly keepaliveSec: number
  readonly reconnectMinMs: number
  readonly reconnectMaxMs: number
  /** Passed to MQTT.js (TLS material for `mqtts://`/`wss://`, credentials, ws options…). */
  readonly mqttOptions?: IClientOptions
  /** A payload on our topic, with the properties it carried (authenticator, stamp). */
  readonly onMessage: (payload: Buffer, properties: EnvelopeProperties) => void
  /** Called whenever `subscribed` changes. */
  readonly onChange: () => void
  readonly log: (message: string) => void
}

// MQTT 3.1.1 CONNACK 1 and MQTT 5 reason 0x84: "unacceptable / unsupported protocol version".
const PROTOCOL_REFUSED = new Set([1, 0x84])

/**
 * One broker: an MQTT.js client that connects (MQTT 5, falling back to 3.1.1 when the broker
 * refuses 5), subscribes to our topic with QoS 1, and reconnects after any loss on an
 * exponential backoff with jitter (MQTT.js's own `reconnectPeriod` is fixed, so it is set to
 * 0 and a fresh client is made per attempt). Tracks RTT and failures for broker selection.
 */
export class BrokerConnection {
  readonly #o: BrokerConnectionOptions
  #client: MqttClient | undefined
  #state: BrokerState = 'idle'
  #subscribed = false
  #version: 4 | 5 = 5
  #timer: NodeJS.Timeout | undefined
  #backoffMs: number
  #rttMs: number | undefined
  #failures = 0
  #totalFailures = 0
  #connects = 0
  #lastConnectedAt: number | undefined
  #lastError: string | undefined

  constructor(options: BrokerConnectionOptions) {
    this.#o = options
    this.#backoffMs = options.reconnectMinMs
  }

  get offset(): number {
    return this.#o.offset
  }

  /** Connected (publishing works), whether or not the subscription is up yet. */
  get connected(): boolean {
    return this.#state === 'connected'
  }

  get subscribed(): boolean {
    return this.#subscribed
  }

  /** Begins connecting (and keeps reconnecting until {@link close}). */
  start(): void {
    if (this.#state === 'idle') this.#connect()
  }

  #connect(): void {
    if (this.#state === 'closed') return
    this.#timer = undefined
    this.#state = 'connecting'
    const started = performance.now()
    const version = this.#version
    const client = mqtt.connect(this.#o.url, {
      protocolVersion: version,
      clientId: this.#o.clientId,
      clean: true,
      keepalive: this.#o.keepaliveSec,
      connectTimeout: this.#o.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      ...this.#o.mqttOptions,
    })
    this.#client = client
    let refusedVersion = false
    client.on('error', (err: Error & { code?: unknown }) => {
      this.#lastError = err.message
      if (version === 5 && typeof err.code === 'number' && PROTOCOL_REFUSED.has(err.code)) {
        refusedVersion = true
      }
    })
    client.on('message', (topic, payload, packet) => {
      if (topic !== this.#o.topic) return
      const user = packet.properties?.userProperties
      const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
      this.#o.onMessage(payload, {
        auth: text(user?.[AUTH_PROPERTY]),
        pow: text(user?.[POW_PROPERTY]),
      })
    })
    client.on('connect', () => {
      if (client !== this.#client) return
      this.#sample(performance.now() - started)
      this.#state = 'connected'
      this.#connects++
      this.#lastConnectedAt = Date.now()
      this.#backoffMs = this.#o.reconnectMinMs
      this.#o.log(`signal-mqtt: connected to ${this.#o.url} (MQTT ${version === 5 ? 5 : '3.1.1'})`)
      client.subscribe(this.#o.topic, { qos: 1 }, (err, granted) => {
        if (client !== this.#client) return
        const qos = granted?.[0]?.qos
        if (err || qos === undefined || qos >= 128) {
          this.#fail(err?.message ?? `subscription refused (${qos})`)
          client.end(true)
          return
        }
        this.#failures = 0
        this.#setSubscribed(true)
      })
    })
    client.once('close', () => {
      if (client !== this.#client) return
      this.#client = undefined
      this.#setSubscribed(false)
      client.end(true)
      if (this.#state === 'closed') return
      if (refusedVersion) {
        this.#o.log(`signal-mqtt: ${this.#o.url} refused MQTT 5, using 3.1.1`)
        this.#version = 4
        this.#connect()
        return
      }
      this.#fail(this.#lastError ?? 'connection closed')
      this.#scheduleReconnect()
    })
  }

  #scheduleReconnect(): void {
    this.#state = 'backoff'
    const delay = Math.round(this.#backoffMs * (0.5 + Math.random() * 0.5))
    this.#backoffMs = Math.min(this.#o.reconnectMaxMs, this.#backoffMs * 2)
    this.#o.log(`signal-mqtt: ${this.#o.url} down, reconnecting in ${delay} ms`)
    this.#timer = setTimeout(() => this.#connect(), delay)
  }

  #setSubscribed(value: boolean): void {
    if (this.#subscribed === value) return
    this.#subscribed = value
    this.#o.onChange()
  }

  #fail(why: string): void {
    this.#failures++
    this.#totalFailures++
    this.#lastError = why
  }

  #sample(ms: number): void {
    this.#rttMs = this.#rttMs === undefined ? ms : this.#rttMs * 0.8 + ms * 0.2
  }

  /**
   * Publishes with QoS 1 (and, on MQTT 5, a message expiry and the user properties: pair
   * authenticator, stamp) and resolves on PUBACK. Rejects when not connected or when the
   * connection drops first.
   */
  publish(
    topic: string,
    payload: Buffer,
    expirySec: number,
    extra: EnvelopeProperties = {},
  ): Promise<void> {
    const client = this.#client
    if (!client || this.#state !== 'connected') {
      return Promise.reject(new Error(`${this.#o.url} is not connected`))
    }
    const started = performance.now()
    const user: Record<string, string> = {}
    if (extra.auth) user[AUTH_PROPERTY] = extra.auth
    if (extra.pow) user[POW_PROPERTY] = extra.pow
    return new Promise((resolve, reject) => {
      client.publish(
        topic,
        payload,
        {
          qos: 1,
          ...(this.#version === 5
            ? {
                properties: {
                  messageExpiryInterval: expirySec,
                  ...(Object.keys(user).length > 0 ? { userProperties: user } : {}),
                },
              }
            : {}),
        },
        (err) => {
          if (err) {
            this.#fail(err.message)
            reject(err)
            return
          }
          this.#failures = 0
          this.#sample(performance.now() - started)
          resolve()
        },
      )
    })
  }

  health(): BrokerHealth {
    return {
      offset: this.#o.offset,
      url: this.#o.url,
      state: this.#state,
      subscribed: this.#subscribed,
      protocolVersion: this.#version,
      rttMs: this.#rttMs,
      failures: this.#failures,
      totalFailures: this.#totalFailures,
      connects: this.#connects,
      lastConnectedAt: this.#lastConnectedAt,
      lastError: this.#lastError,
    }
  }

  /** Stops reconnecting and closes the connection; resolves once the socket is gone. */
  async close(): Promise<void> {
    this.#state = 'closed'
    clearTimeout(this.#timer)
    this.#timer = undefined
    const client = this.#client
    this.#client = undefined
    this.#subscribed = false
    if (client) await new Promise<void>((resolve) => client.end(true, () => resolve()))
  }
}
