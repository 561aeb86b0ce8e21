import {
  AttrType,
  attr,
  type DecodedStunMessage,
  type EncodeOptions,
  findAttribute,
  longTermKey,
  readAttributes,
  type StunAttribute,
} from '@p2pd/stun'

/** PASSWORD-ALGORITHM values (RFC 8489 §18.5). */
export const PasswordAlgorithm = { Md5: 0x0001, Sha256: 0x0002 } as const

/** Parses a PASSWORD-ALGORITHMS value into algorithm numbers (malformed: empty list). */
export function parsePasswordAlgorithms(value: Uint8Array): number[] {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const out: number[] = []
  let off = 0
  while (off + 4 <= v.length) {
    const alg = v.readUInt16BE(off)
    const len = v.readUInt16BE(off + 2)
    out.push(alg)
    off += 4 + ((len + 3) & ~3)
  }
  return off === v.length ? out : []
}

/**
 * Long-term credential state of one client (RFC 8489 §9.2): the realm and nonce the server
 * handed out, the key derived from them, and — when the server offers it through
 * PASSWORD-ALGORITHMS — SHA-256 keys with MESSAGE-INTEGRITY-SHA256 instead of MD5 + SHA-1.
 */
export class LongTermAuth {
  readonly username: string
  readonly #password: string
  realm: string | undefined
  nonce: string | undefined
  #key: Buffer | undefined
  #sha256 = false
  #algorithmsValue: Uint8Array | undefined

  constructor(username: string, password: string) {
    this.username = username
    this.#password = password
  }

  /**
   * A copy with the same credentials and what the server taught so far (realm, nonce,
   * algorithm): for a second connection (an RFC 6062 data connection) that must not disturb
   * this one's nonce.
   */
  clone(): LongTermAuth {
    const c = new LongTermAuth(this.username, this.#password)
    c.realm = this.realm
    c.nonce = this.nonce
    c.#key = this.#key
    c.#sha256 = this.#sha256
    c.#algorithmsValue = this.#algorithmsValue
    return c
  }

  /** True once a 401 taught us realm and nonce. */
  get ready(): boolean {
    return this.#key !== undefined
  }

  get algorithm(): 'md5' | 'sha256' {
    return this.#sha256 ? 'sha256' : 'md5'
  }

  get key(): Buffer | undefined {
    return this.#key
  }

  /**
   * Learns realm/nonce (and the password algorithms) from a 401 or 438 response. Returns
   * false when the response carries no usable realm/nonce.
   */
  learn(response: DecodedStunMessage): boolean {
    const a = readAttributes(response)
    if (!a.nonce) return false
    const realm = a.realm ?? this.realm
    if (!realm) return false
    const algs = findAttribute(response, AttrType.PasswordAlgorithms)
    if (algs) {
      const list = parsePasswordAlgorithms(algs.value)
      if (list.includes(PasswordAlgorithm.Sha256)) {
        this.#sha256 = true
        this.#algorithmsValue = Buffer.from(algs.value)
      }
    }
    this.realm = realm
    this.nonce = a.nonce
    this.#key = longTermKey(this.username, realm, this.#password, this.algorithm)
    return true
  }

  /** USERNAME, REALM, NONCE (and the algorithm attributes) for an authenticated request. */
  attributes(): StunAttribute[] {
    if (!this.realm || !this.nonce) return []
    const out = [attr.username(this.username), attr.realm(this.realm), attr.nonce(this.nonce)]
    if (this.#sha256 && this.#algorithmsValue) {
      const alg = Buffer.alloc(4)
      alg.writeUInt16BE(PasswordAlgorithm.Sha256, 0)
      out.push(attr.raw(AttrType.PasswordAlgorithms, this.#algorithmsValue))
      out.push(attr.raw(AttrType.PasswordAlgorithm, alg))
    }
    return out
  }

  /** Integrity (+ FINGERPRINT) for an authenticated request, or just FINGERPRINT before. */
  encodeOptions(): EncodeOptions {
    if (!this.#key) return { fingerprint: true }
    return {
      integrity: { key: this.#key, algorithm: this.#sha256 ? 'sha256' : 'sha1' },
      fingerprint: true,
    }
  }
}
