import { createHash, createPublicKey, type KeyObject, verify as verifyNode } from 'node:crypto'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { type Identity, secretKeyOf } from './keys.js'

/**
 * ECDSA over secp256k1 with SHA-256, low-s only: the secure channel's identity proof.
 *
 * Why not BIP-340 like {@link sign}: OpenSSL has no Schnorr, and noble's pure-JS verification
 * costs ~1.7–1.9 ms per handshake side on this hardware; OpenSSL verifies ECDSA-secp256k1 in
 * ~0.4 ms (+0.2 ms to import a new peer key, cached afterwards). The proof is made once per
 * process (noble, RFC 6979 deterministic nonces, low-s) and verified on every handshake.
 *
 * Malleability is closed by hand: signatures with `s > n/2` are never produced and always
 * rejected, so each (key, message) has exactly one valid encoding, as with BIP-340.
 */

/** r ‖ s, 32 bytes each, big-endian (IEEE P1363). */
export const ECDSA_SIGNATURE_LENGTH = 64

/**
 * ECDSA tags are `p2pd/v1-ecdsa/<domain>`: never equal to a BIP-340 tag (`p2pd/v1/<domain>`),
 * so a message signed under one scheme is never the message of the other.
 */
export const ECDSA_TAG_PREFIX = 'p2pd/v1-ecdsa/'

// SEC1 `ecPublicKey` + `secp256k1` SubjectPublicKeyInfo header for a 33-byte compressed point.
const SPKI_COMPRESSED_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex')
/** Half the group order: the largest acceptable `s`. */
const HALF_ORDER = Buffer.from(
  '7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0',
  'hex',
)

/** `SHA-256(tag) ‖ SHA-256(tag) ‖ signer key (33) ‖ message`, hashed once more by ECDSA. */
function preimage(domain: string, signerPublicKey: Uint8Array, message: Uint8Array): Buffer {
  const t = createHash('sha256')
    .update(ECDSA_TAG_PREFIX + domain)
    .digest()
  return Buffer.concat([t, t, signerPublicKey, message])
}

/** Signs with ECDSA-secp256k1-SHA256, low-s, RFC 6979 nonces. Returns r ‖ s (64 bytes). */
export function ecdsaSign(identity: Identity, domain: string, message: Uint8Array): Buffer {
  const signature = secp256k1.sign(
    preimage(domain, identity.publicKey, message),
    secretKeyOf(identity),
    { prehash: true, lowS: true, format: 'compact' },
  )
  return Buffer.from(signature)
}

// Peer keys already imported (and so proven to be valid compressed points), by hex.
const keyObjects = new Map<string, KeyObject>()
const MAX_CACHED_KEYS = 1024

/** @internal True when the r ‖ s signature has s ≤ n/2 (as 32-byte big-endian numbers). */
export function isLowS(signature: Uint8Array): boolean {
  return Buffer.compare(signature.subarray(32, 64), HALF_ORDER) <= 0
}

/**
 * @internal The `KeyObject` of a 33-byte compressed secp256k1 key, or `undefined` when it is not
 * a valid point (OpenSSL checks x < p and that x is on the curve while decompressing).
 */
export function publicKeyObject(publicKey: Uint8Array): KeyObject | undefined {
  if (publicKey.length !== 33 || (publicKey[0] !== 2 && publicKey[0] !== 3)) return undefined
  const id = Buffer.from(publicKey).toString('hex')
  let key = keyObjects.get(id)
  if (!key) {
    try {
      key = createPublicKey({
        key: Buffer.concat([SPKI_COMPRESSED_PREFIX, publicKey]),
        format: 'der',
        type: 'spki',
      })
    } catch {
      return undefined
    }
    if (keyObjects.size >= MAX_CACHED_KEYS) keyObjects.clear()
    keyObjects.set(id, key)
  }
  return key
}

/**
 * True when `signature` is the low-s ECDSA signature of `message` for `domain` by the 33-byte
 * compressed key `publicKey`. Never throws.
 */
export function ecdsaVerify(
  publicKey: Uint8Array,
  domain: string,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    if (signature.length !== ECDSA_SIGNATURE_LENGTH) return false
    // OpenSSL checks 0 < r, s < n; the low-s rule is ours.
    if (!isLowS(signature)) return false
    const key = publicKeyObject(publicKey)
    if (!key) return false
    return verifyNode(
      'sha256',
      preimage(domain, publicKey, message),
      { key, dsaEncoding: 'ieee-p1363' },
      signature,
    )
  } catch {
    return false
  }
}
