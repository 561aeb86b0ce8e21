import { inspect } from 'node:util'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromHex, toHex } from './bytes.js'
import { IdentityError } from './errors.js'

/** Length of a node ID in hex characters (a 33-byte compressed secp256k1 public key). */
export const NODE_ID_LENGTH = 66

/** Length of a secp256k1 secret key in bytes. */
export const SECRET_KEY_LENGTH = 32

const NODE_ID_SHAPE = /^0[23][0-9a-f]{64}$/

// Module-private door to the secret, so that signing can use it without the class exposing a
// public getter (the public `exportSecretKey()` exists but is explicit and copies).
let secretOf: (identity: Identity) => Uint8Array

/**
 * A node's long-term secp256k1 key pair. `nodeId` is the compressed public key in lowercase hex
 * (66 chars): it goes into the peer address and is the node's MQTT topic.
 *
 * The secret key never appears in `JSON.stringify`, `console.log`/`util.inspect` or `String()`:
 * those print `[redacted]`. Build one with {@link generateIdentity}, {@link identityFromSecret}
 * or `loadIdentity` (key file).
 */
export class Identity {
  /** Compressed secp256k1 public key, 66 lowercase hex chars. */
  readonly nodeId: string
  readonly #publicKey: Uint8Array
  readonly #secretKey: Uint8Array

  static {
    secretOf = (identity) => identity.#secretKey
  }

  private constructor(secretKey: Uint8Array) {
    if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_LENGTH) {
      throw new IdentityError('IDENTITY_INVALID_SECRET_KEY', 'a secret key is 32 bytes')
    }
    if (!secp256k1.utils.isValidSecretKey(secretKey)) {
      throw new IdentityError('IDENTITY_INVALID_SECRET_KEY', 'secret key is 0 or ≥ the curve order')
    }
    this.#secretKey = Uint8Array.from(secretKey)
    this.#publicKey = secp256k1.getPublicKey(this.#secretKey, true)
    this.nodeId = toHex(this.#publicKey)
  }

  /** @internal Use {@link identityFromSecret}. */
  static fromSecretKey(secretKey: Uint8Array): Identity {
    return new Identity(secretKey)
  }

  /** A copy of the 33-byte compressed public key. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey)
  }

  /**
   * A copy of the 32-byte secret key. Only for moving the key into other secure storage; the
   * key-file functions already cover persistence. Never log it.
   */
  exportSecretKey(): Uint8Array {
    return Uint8Array.from(this.#secretKey)
  }

  /** Only the node ID: an identity serialises without its secret. */
  toJSON(): { nodeId: string; secretKey: '[redacted]' } {
    return { nodeId: this.nodeId, secretKey: '[redacted]' }
  }

  toString(): string {
    return `Identity(${this.nodeId})`
  }

  [inspect.custom](): string {
    return `Identity { nodeId: '${this.nodeId}', secretKey: [redacted] }`
  }
}

/** @internal The identity's secret key, without copying. Not exported from the package. */
export function secretKeyOf(identity: Identity): Uint8Array {
  return secretOf(identity)
}

/** A fresh identity from the OS CSPRNG. */
export function generateIdentity(): Identity {
  return Identity.fromSecretKey(secp256k1.utils.randomSecretKey())
}

/**
 * The identity for a 32-byte secp256k1 secret key (the input is copied).
 * @throws {@link IdentityError} `IDENTITY_INVALID_SECRET_KEY` unless 32 bytes in [1, n−1].
 */
export function identityFromSecret(secretKey: Uint8Array): Identity {
  return Identity.fromSecretKey(secretKey)
}

/**
 * True when `s` is a node ID: 66 lowercase hex chars, prefix `02`/`03`, and a point on
 * secp256k1. P2PD's 25-hex legacy IDs are not node IDs (they cannot be authenticated).
 */
export function isNodeId(s: unknown): s is string {
  if (typeof s !== 'string' || !NODE_ID_SHAPE.test(s)) return false
  try {
    secp256k1.Point.fromBytes(fromHex(s) as Uint8Array)
    return true
  } catch {
    return false
  }
}

/**
 * The 33-byte compressed public key a node ID names.
 * @throws {@link IdentityError} `IDENTITY_INVALID_NODE_ID` unless {@link isNodeId}.
 */
export function nodeIdToPublicKey(nodeId: string): Uint8Array {
  if (!isNodeId(nodeId)) {
    throw new IdentityError('IDENTITY_INVALID_NODE_ID', 'not a node ID (66 hex, 02/03 prefix)')
  }
  return fromHex(nodeId) as Uint8Array
}

/**
 * P2PD's legacy 25-hex node id for display and compatibility: the first 25 hex chars of
 * SHA-256 of the compressed public key, as P2PD derives it. It cannot be authenticated.
 * @throws {@link IdentityError} `IDENTITY_INVALID_NODE_ID` unless {@link isNodeId}.
 */
export function legacyNodeId(nodeId: string): string {
  return toHex(sha256(nodeIdToPublicKey(nodeId))).slice(0, 25)
}
