import {
  AttrType,
  attr,
  type DecodedStunMessage,
  type EncodeOptions,
  findAttribute,
  longTermKey,
  readAttributes,
  type StunAttribute,
  verifyIntegrity,
} from '@p2pd/stun'
import { PasswordAlgorithm } from '../client/auth.js'
import { NonceIssuer } from './nonce.js'
import type { StrangerGuard } from './stranger-guard.js'

/** A request that passed the long-term credential check. */
export interface Authenticated {
  readonly username: string
  /** How to sign the responses (the request's key and integrity algorithm). */
  readonly encode: EncodeOptions
}

/** What to do with a request: go on, answer with a challenge (400/401/438), or drop it. */
export type CredentialCheck =
  | { readonly kind: 'ok'; readonly auth: Authenticated }
  | { readonly kind: 'challenge'; readonly attributes: StunAttribute[] }
  | { readonly kind: 'drop' }

/** Counters the check keeps (a slice of the server's stats). */
export interface CredentialStats {
  authFailures: number
  throttledFailedAuth: number
}

/** PASSWORD-ALGORITHMS we offer: SHA-256 first, MD5 for older clients. */
const ALGORITHMS_VALUE = Buffer.from([
  0,
  PasswordAlgorithm.Sha256,
  0,
  0,
  0,
  PasswordAlgorithm.Md5,
  0,
  0,
])

/** True when the request carries MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256. */
export function signed(req: DecodedStunMessage): boolean {
  return (
    findAttribute(req, AttrType.MessageIntegrity) !== undefined ||
    findAttribute(req, AttrType.MessageIntegritySha256) !== undefined
  )
}

/**
 * Long-term credentials (RFC 8489 §9.2) with the stranger limits in front: a source over its
 * failed-auth budget, or a (username, IP) in back-off, is dropped before any key is derived.
 * The nonce is checked before the integrity: it is cheap and bound to the client's IP, so a
 * blind spoofer earns 438s (budgeted like any reply to a stranger), never a counted failure.
 */
export class CredentialChecker {
  readonly #nonces: NonceIssuer

  constructor(
    readonly realm: string,
    readonly password: (username: string) => string | undefined,
    readonly offerSha256: boolean,
    nonceTtlMs: number,
    readonly guard: StrangerGuard,
    readonly stats: CredentialStats,
  ) {
    this.#nonces = new NonceIssuer(nonceTtlMs, offerSha256)
  }

  /** The error attributes of a challenge: code, realm, a fresh nonce for `ip`. */
  challenge(code: number, reason: string, ip: string): StunAttribute[] {
    const attrs = [
      attr.errorCode(code, reason),
      attr.realm(this.realm),
      attr.nonce(this.#nonces.issue(ip)),
    ]
    if (this.offerSha256) attrs.push(attr.raw(AttrType.PasswordAlgorithms, ALGORITHMS_VALUE))
    return attrs
  }

  check(req: DecodedStunMessage, ip: string): CredentialCheck {
    const a = readAttributes(req)
    const challenge = (code: number, reason: string): CredentialCheck => ({
      kind: 'challenge',
      attributes: this.challenge(code, reason, ip),
    })
    if (!signed(req)) return challenge(401, 'Unauthorized')
    const username = a.username
    if (!username || !a.realm || !a.nonce) return challenge(400, 'Bad Request')
    if (this.guard.authGate(ip, username) !== 'ok') {
      this.stats.throttledFailedAuth++
      return { kind: 'drop' }
    }
    if (!this.#nonces.valid(a.nonce, ip)) return challenge(438, 'Stale Nonce')
    const failed = (code: number, reason: string) => {
      this.stats.authFailures++
      this.guard.authFailed(ip, username)
      return challenge(code, reason)
    }
    const password = this.password(username)
    if (password === undefined || a.realm !== this.realm) return failed(401, 'Unauthorized')
    let algorithm: 'md5' | 'sha256' = 'md5'
    const alg = findAttribute(req, AttrType.PasswordAlgorithm)
    if (alg && alg.value.length >= 2 && alg.value.readUInt16BE(0) === PasswordAlgorithm.Sha256) {
      const offered = findAttribute(req, AttrType.PasswordAlgorithms)
      // RFC 8489 §9.2.4: the echoed list must be the one we sent (downgrade protection).
      if (!this.offerSha256 || !offered?.value.equals(ALGORITHMS_VALUE)) {
        return failed(400, 'Bad Request')
      }
      algorithm = 'sha256'
    }
    const key = longTermKey(username, this.realm, password, algorithm)
    if (!verifyIntegrity(req, key)) return failed(401, 'Unauthorized')
    this.guard.authSucceeded(ip, username)
    const sha256Mi = findAttribute(req, AttrType.MessageIntegritySha256) !== undefined
    return {
      kind: 'ok',
      auth: {
        username,
        encode: { integrity: { key, algorithm: sha256Mi ? 'sha256' : 'sha1' }, fingerprint: true },
      },
    }
  }
}
