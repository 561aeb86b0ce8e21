import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** RFC 8489 §9.2 nonce cookie announcing the "password algorithms" security feature. */
export const SECURITY_FEATURE_COOKIE = 'obMatJos2'

/** Expiry (ms since the epoch, 48 bits) then MAC (96 bits), base64url: 8 + 16 characters. */
const EXPIRY_BYTES = 6
const MAC_BYTES = 12
const BODY_CHARS = 24

/**
 * Stateless nonces: `[cookie] expiry mac`, where mac = HMAC(secret, expiry, scope) and the
 * scope is the client's IP, so a nonce only works from the address it was sent to (a blind
 * spoofer never sees one). Short on purpose: it rides in every 401 to a stranger. A server
 * restart (new secret) invalidates every nonce; clients learn it through 438.
 */
export class NonceIssuer {
  readonly #secret = randomBytes(32)
  readonly #ttlMs: number
  readonly #prefix: string

  constructor(ttlMs: number, offerSha256: boolean) {
    this.#ttlMs = ttlMs
    // Feature bits (24, base64): only "password algorithms" (the first bit) is set.
    this.#prefix = offerSha256 ? `${SECURITY_FEATURE_COOKIE}gAAA` : ''
  }

  issue(scope = '', now = Date.now()): string {
    const expiry = Buffer.alloc(EXPIRY_BYTES)
    expiry.writeUIntBE(Math.min(now + this.#ttlMs, 2 ** 48 - 1), 0, EXPIRY_BYTES)
    const body = Buffer.concat([expiry, this.#mac(expiry, scope)])
    return `${this.#prefix}${body.toString('base64url')}`
  }

  /** True when `nonce` is ours, was issued for `scope` and has not expired. */
  valid(nonce: string, scope = '', now = Date.now()): boolean {
    if (nonce.length !== this.#prefix.length + BODY_CHARS || !nonce.startsWith(this.#prefix)) {
      return false
    }
    const body = Buffer.from(nonce.slice(this.#prefix.length), 'base64url')
    if (body.length !== EXPIRY_BYTES + MAC_BYTES) return false
    const expiry = body.subarray(0, EXPIRY_BYTES)
    if (!timingSafeEqual(this.#mac(expiry, scope), body.subarray(EXPIRY_BYTES))) return false
    return expiry.readUIntBE(0, EXPIRY_BYTES) > now
  }

  #mac(expiry: Buffer, scope: string): Buffer {
    return createHmac('sha256', this.#secret)
      .update(expiry)
      .update(scope)
      .digest()
      .subarray(0, MAC_BYTES)
  }
}
