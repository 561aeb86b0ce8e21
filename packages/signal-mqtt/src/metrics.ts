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
  /** Strangers (no valid pair authenticator) together over their budget, before decrypting. */
  | 'globalRateLimited'
  /** A pair authenticator with a known key id but a wrong MAC: forged, dropped before decrypting. */
  | 'forged'
  /** An ephemeral key already opened once: real senders never reuse one (before decrypting). */
  | 'reusedKey'
  /** More envelopes waiting to be opened than the queue holds (before decrypting). */
  | 'overloaded'
  /** Type neither built in nor `app/…`. */
  | 'unknownType'
  /** Body fails the schema of its type, or an `app/…` body over its cap. */
  | 'badBody'

/** Counters of a signaling backend, since it was created. */
export interface SignalingMetrics {
  /** MQTT messages that arrived on our topic (every copy). */
  received: number
  /** Envelopes that carried a valid pair authenticator (from a peer we have talked to). */
  fromPeers: number
  /** Strangers' envelopes that carried a valid proof-of-work stamp. */
  stamped: number
  /** Envelopes opened (key agreement, decryption, signature): the expensive work done. */
  opened: number
  /** Messages handed to the handlers. */
  delivered: number
  /** Proof-of-work stamps we minted for our first envelopes to peers. */
  stampsMinted: number
  /** Stamped copies given up because the peer wrote to us first (it had the unstamped one). */
  stampsSkipped: number
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
    fromPeers: 0,
    stamped: 0,
    opened: 0,
    delivered: 0,
    stampsMinted: 0,
    stampsSkipped: 0,
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
      forged: 0,
      reusedKey: 0,
      overloaded: 0,
      unknownType: 0,
      badBody: 0,
    },
  }
}

/** Envelopes refused as forgeries: bad authenticator, reused key, failed decryption or signature. */
export function forgedCount(m: SignalingMetrics): number {
  const d = m.dropped
  return d.forged + d.reusedKey + d.undecryptable + d.badSignature + d.senderMismatch
}

/** Envelopes refused for want of budget: rate limits and a full queue. */
export function overBudgetCount(m: SignalingMetrics): number {
  const d = m.dropped
  return d.rateLimited + d.globalRateLimited + d.overloaded
}
