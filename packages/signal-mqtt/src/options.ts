import type { Identity } from '@p2pd/identity'
import type { Clock } from '@p2pd/interface'
import type { IClientOptions } from 'mqtt'
import type { RateLimit } from './rate-limit.js'

/** Options of {@link mqttSignaling}. Only `identity` is required. */
export interface MqttSignalingOptions {
  /** Who we are: messages are sealed by and to node IDs. */
  readonly identity: Identity
  /**
   * Broker URLs (`mqtt://`, `mqtts://`, `ws://`, `wss://`); **the index is the signal offset**
   * peer addresses carry, so every node must use the same list in the same order.
   * Default: {@link DEFAULT_BROKERS} (P2PD's public list).
   */
  readonly brokers?: readonly string[]
  /**
   * Offsets to connect to. Default: the first `maxBrokers` of an order derived from the node ID
   * (so a restarted node lands on the same brokers).
   */
  readonly connectTo?: readonly number[]
  /** How many brokers to connect to when `connectTo` is not given (default 4). */
  readonly maxBrokers?: number
  /** How many brokers each message is published through (default 2). */
  readonly redundancy?: number
  /** Brokers that must be subscribed before `start()` resolves (default 1). */
  readonly quorum?: number
  /** Skew-corrected clock for timestamps and the time window (default `systemClock`). */
  readonly clock?: Clock
  /** Debug log sink (drops, reconnects). Default: silent. */
  readonly log?: (message: string) => void
  /** Topic prefix; our topic is `<prefix><nodeId>` (default `p2pd/v1/`). */
  readonly topicPrefix?: string
  /** Deadline of `start()` (default 10 s). */
  readonly startTimeoutMs?: number
  /** Deadline of `publish()` (default 5 s). */
  readonly publishTimeoutMs?: number
  /** Deadline of one connection attempt (default 5 s). */
  readonly connectTimeoutMs?: number
  /** MQTT keepalive in seconds (default 30). */
  readonly keepaliveSec?: number
  /** Reconnect backoff: first delay and cap, in ms (default 1 s and 60 s, with jitter). */
  readonly reconnectMinMs?: number
  readonly reconnectMaxMs?: number
  /** MQTT 5 message expiry of what we publish, in s (default 60). */
  readonly messageExpirySec?: number
  /** Accepted sender clock difference, ± ms, widened by the clock's uncertainty (default 60 s). */
  readonly windowMs?: number
  /** Largest envelope, in bytes, sent or accepted before decrypting (default 16 KiB). */
  readonly maxEnvelopeBytes?: number
  /** Largest `app/…` body, in bytes of JSON (default 8 KiB). */
  readonly maxAppBodyBytes?: number
  /** Message ids remembered against replays (default 10,000). */
  readonly replayCacheSize?: number
  /**
   * How long a message that overtook an earlier one from the same sender (through another
   * broker) waits for it before being delivered anyway (default 250 ms).
   */
  readonly reorderHoldMs?: number
  /** Per-sender token bucket (default 50 msg/s, burst 200). */
  readonly perSenderRate?: RateLimit
  /**
   * Budget of envelopes from strangers — senders without a valid pair authenticator — all
   * together, checked before decrypting (default 100/s, burst 200). Peers we have talked to
   * are not counted against it (see the README, Floods).
   */
  readonly globalRate?: RateLimit
  /**
   * Budget of strangers' envelopes that carry a valid proof-of-work stamp, all together,
   * apart from `globalRate` and opened ahead of unstamped ones (default 50/s, burst 100).
   */
  readonly stampedRate?: RateLimit
  /**
   * Proof-of-work difficulty, in leading zero bits of SHA-256 (default 16, ≈ 65,000 hashes):
   * what our first envelopes to a peer carry, and what a stranger's stamp needs to count. 0
   * turns stamps off both ways. Every node should use the same value.
   */
  readonly powBits?: number
  /** Extra MQTT.js client options (TLS CA/certs for `mqtts://`/`wss://`, credentials…). */
  readonly mqttOptions?: IClientOptions
}

/** The defaults of {@link MqttSignalingOptions}. */
export const SIGNALING_DEFAULTS = {
  maxBrokers: 4,
  redundancy: 2,
  quorum: 1,
  topicPrefix: 'p2pd/v1/',
  startTimeoutMs: 10_000,
  publishTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  keepaliveSec: 30,
  reconnectMinMs: 1_000,
  reconnectMaxMs: 60_000,
  messageExpirySec: 60,
  windowMs: 60_000,
  maxEnvelopeBytes: 16 * 1024,
  maxAppBodyBytes: 8 * 1024,
  replayCacheSize: 10_000,
  reorderHoldMs: 250,
  perSenderRate: { rate: 50, burst: 200 },
  globalRate: { rate: 100, burst: 200 },
  stampedRate: { rate: 50, burst: 100 },
  powBits: 16,
} as const
