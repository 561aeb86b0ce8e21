import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** Name of the MQTT 5 user property that carries the pair authenticator. */
export const AUTH_PROPERTY = 'p2pd-auth'

const KEY_HEX = /^[0-9a-f]{64}$/
const AUTH_HEX = /^[0-9a-f]{48}$/
const KEY_ID_BYTES = 8
const MAC_BYTES = 16
/** Keys remembered per peer: the current one and a few it replaced (restarts, races). */
const KEYS_PER_PEER = 4

interface PairKey {
  readonly key: Buffer
  readonly hex: string
  readonly id: string
}

interface PeerRecord {
  /** The key we authenticate our messages to this peer with. */
  current: PairKey
  /** Every key we accept from this peer, newest last (includes `current`). */
  readonly accepted: PairKey[]
  /** The peer has sent us a verified envelope with a key: it knows us, no stamps needed. */
  confirmed: boolean
  /** Stamped envelopes we sent it while unconfirmed. */
  stamps: number
}

/** Envelopes stamped per peer before it confirms (one may be lost or still queued there). */
const STAMPS_PER_PEER = 3

function pairKey(hex: string): PairKey {
  const key = Buffer.from(hex, 'hex')
  const id = createHash('sha256')
    .update('p2pd/v1/signal/pair-key-id')
    .update(key)
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString('hex')
  return { key, hex, id }
}

function mac(key: Buffer, envelope: Uint8Array): Buffer {
  return createHmac('sha256', key).update(envelope).digest().subarray(0, MAC_BYTES)
}

/** What {@link PairKeys.check} says about an authenticator. */
export type AuthCheck =
  /** No authenticator, or a key id we do not know: the envelope goes the budgeted way. */
  | { readonly kind: 'none' }
  /** A known key id with a wrong MAC: forged (or corrupted), dropped before any decryption. */
  | { readonly kind: 'forged'; readonly peer: string }
  /** A valid MAC under a key only `peer` and we hold. */
  | { readonly kind: 'peer'; readonly peer: string }

/**
 * One secret key per peer we have exchanged signaling with, so that its envelopes can be
 * recognised before the expensive open (key agreement, decryption, signature).
 *
 * Whoever writes first picks a random 32-byte key and puts it inside its sealed payload (`ak`);
 * the other side learns it once the envelope verifies. From then on both attach an
 * authenticator to what they publish — `keyId (8 bytes) ‖ HMAC-SHA256(key, envelope)[:16]`, as
 * 48 hex in an MQTT 5 user property — and the receiver checks it with one hash. When both
 * picked a key at once, both keep the smaller one and accept either. Bounded: the least
 * recently used peers are forgotten first.
 */
export class PairKeys {
  readonly #peers = new Map<string, PeerRecord>()
  readonly #byId = new Map<string, { peer: string; key: PairKey }>()

  constructor(readonly maxPeers = 1_024) {}

  /** The key (64 hex) to send to `peer` in `ak`; picks one the first time. */
  keyFor(peer: string): string {
    return this.#record(peer).current.hex
  }

  /** The authenticator (48 hex) of `envelope` for `peer`. */
  authenticate(peer: string, envelope: Uint8Array): string {
    const { current } = this.#record(peer)
    return current.id + mac(current.key, envelope).toString('hex')
  }

  /**
   * Whether our next envelope to `peer` should carry a proof-of-work stamp: the peer has not
   * shown yet that it knows our key (it never wrote to us), and we stamped fewer than three.
   */
  wantsStamp(peer: string): boolean {
    const record = this.#peers.get(peer)
    return !record || (!record.confirmed && record.stamps < STAMPS_PER_PEER)
  }

  /** True once `peer` has written to us with its key (it knows ours: no stamp is needed). */
  knows(peer: string): boolean {
    return this.#peers.get(peer)?.confirmed === true
  }

  /** Counts a stamped envelope sent to `peer`. */
  stamped(peer: string): void {
    const record = this.#peers.get(peer)
    if (record) record.stamps++
  }

  /** Checks an authenticator received with `envelope`: one hash, no public-key work. */
  check(auth: string | undefined, envelope: Uint8Array): AuthCheck {
    if (auth === undefined || !AUTH_HEX.test(auth)) return { kind: 'none' }
    const found = this.#byId.get(auth.slice(0, 2 * KEY_ID_BYTES))
    if (!found) return { kind: 'none' }
    const expected = mac(found.key.key, envelope)
    const given = Buffer.from(auth.slice(2 * KEY_ID_BYTES), 'hex')
    if (!timingSafeEqual(expected, given)) return { kind: 'forged', peer: found.peer }
    this.#touch(found.peer)
    return { kind: 'peer', peer: found.peer }
  }

  /** Records the key `peer` sent in a verified envelope (`ak`); ignores malformed ones. */
  learn(peer: string, hex: unknown): void {
    if (typeof hex !== 'string' || !KEY_HEX.test(hex)) return
    const record = this.#peers.get(peer)
    if (!record) {
      const key = pairKey(hex)
      this.#insert(peer, { current: key, accepted: [key], confirmed: true, stamps: 0 })
      return
    }
    this.#touch(peer)
    record.confirmed = true
    if (record.accepted.some((k) => k.hex === hex)) {
      if (hex < record.current.hex) record.current = record.accepted.find((k) => k.hex === hex)!
      return
    }
    const key = pairKey(hex)
    record.accepted.push(key)
    this.#byId.set(key.id, { peer, key })
    // Both sides converge on the smaller key, whoever picked first.
    if (hex < record.current.hex) record.current = key
    while (record.accepted.length > KEYS_PER_PEER) {
      const old = record.accepted.find((k) => k !== record.current) as PairKey
      record.accepted.splice(record.accepted.indexOf(old), 1)
      this.#byId.delete(old.id)
    }
  }

  /** Peers remembered. */
  get size(): number {
    return this.#peers.size
  }

  clear(): void {
    this.#peers.clear()
    this.#byId.clear()
  }

  #record(peer: string): PeerRecord {
    const record = this.#peers.get(peer)
    if (record) {
      this.#touch(peer)
      return record
    }
    const key = pairKey(randomBytes(32).toString('hex'))
    const fresh = { current: key, accepted: [key], confirmed: false, stamps: 0 }
    this.#insert(peer, fresh)
    return fresh
  }

  #insert(peer: string, record: PeerRecord): void {
    this.#peers.set(peer, record)
    for (const key of record.accepted) this.#byId.set(key.id, { peer, key })
    while (this.#peers.size > this.maxPeers) {
      const [oldest, old] = this.#peers.entries().next().value as [string, PeerRecord]
      this.#peers.delete(oldest)
      for (const key of old.accepted) this.#byId.delete(key.id)
    }
  }

  #touch(peer: string): void {
    const record = this.#peers.get(peer)
    if (!record) return
    this.#peers.delete(peer)
    this.#peers.set(peer, record)
  }
}
