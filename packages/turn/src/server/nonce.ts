import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** RFC 8489 §9.2 nonce cookie announcing the "password algorithms" security feature. */
export const SECURITY_FEATURE_COOKIE = 'obMatJos2'

/**
 * Stateless nonces: `[cookie] expiry(hex) . mac`, where mac = HMAC(secret, expiry). Valid
 * until `expiry`; a server restart (new secret) invalidates every nonce, so clients learn it
 * through 438.
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

  issue(now = Date.now()): string {
    const expiry = (now + this.#ttlMs).toString(16)
    return `${this.#prefix}${expiry}.${this.#mac(expiry)}`
  }

  /** True when `nonce` is ours and not expired. */
  valid(nonce: string, now = Date.now()): boolean {
    if (!nonce.startsWith(this.#prefix)) return false
    const [expiry, mac] = nonce.slice(this.#prefix.length).split('.')
    if (!expiry || !mac || !/^[0-9a-f]{1,13}$/.test(expiry)) return false
    const want = Buffer.from(this.#mac(expiry))
    const got = Buffer.from(mac)
    if (want.length !== got.length || !timingSafeEqual(want, got)) return false
    return Number.parseInt(expiry, 16) > now
  }

  #mac(expiry: string): string {
    return createHmac('sha256', this.#secret).update(expiry).digest('base64url').slice(0, 22)
  }
}
