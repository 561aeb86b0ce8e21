import type { EnvelopeDropReason } from './envelope.js'

/** Why a received message was dropped. */
export type DropReason =
  | EnvelopeDropReason
  /** Sender's timestamp outside ±window (plus the clock's uncertainty). */
  | 'expired'
  /** Message id already seen: a replay, or the redundant copy from another broker. */
  | 'replayed'
  /** Sender over its token bucket. */
  | 'rateLimited'
  /** All senders together over the global bucket (checked before decrypting). */
  | 'globalRateLimited'
  /** Type neither built in nor `app/…`. */
  | 'unknownType'
  /** Body fails the schema of its type, or an `app/…` body over its cap. */
  | 'badBody'

/** Counters of a signaling backend, since it was created. */
export interface SignalingMetrics {
  /** MQTT messages that arrived on our topic (every copy). */
  received: number
  /** Messages handed to the handlers. */
  delivered: number
  /** `publish()` calls acknowledged by at least one broker. */
  published: number
  /** `publish()` calls that failed. */
  publishFailed: number
  /** Dropped messages, by reason. */
  dropped: Record<DropReason, number>
}

/** All counters at zero. */
export function emptyMetrics(): SignalingMetrics {
  return {
    received: 0,
    delivered: 0,
    published: 0,
    publishFailed: 0,
    dropped: {
      oversize: 0,
      version: 0,
      undecryptable: 0,
      badSignature: 0,
      malformed: 0,
      senderMismatch: 0,
      expired: 0,
      replayed: 0,
      rateLimited: 0,
      globalRateLimited: 0,
      unknownType: 0,
      badBody: 0,
    },
  }
}
