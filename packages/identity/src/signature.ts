import { createHash } from 'node:crypto'
import { schnorr } from '@noble/curves/secp256k1.js'
import { fromHex } from './bytes.js'
import { IdentityError } from './errors.js'
import { type Identity, isNodeId, secretKeyOf } from './keys.js'

/** Length of a signature: BIP-340 Schnorr, 64 bytes. */
export const SIGNATURE_LENGTH = 64

/** Every signature domain is tagged `p2pd/v1/<domain>`. */
export const SIGNATURE_TAG_PREFIX = 'p2pd/v1/'

const DOMAIN_SHAPE = /^[a-z0-9][a-z0-9._:/-]{0,63}$/

/** True when `domain` is a valid signature domain: `[a-z0-9][a-z0-9._:/-]{0,63}`. */
export function isSignatureDomain(domain: unknown): domain is string {
  return typeof domain === 'string' && DOMAIN_SHAPE.test(domain)
}

// SHA-256(tag) ‖ SHA-256(tag), as BIP-340 tagged hashes start; a handful of domains in practice.
const tagPrefixes = new Map<string, Buffer>()

function tagPrefix(domain: string): Buffer {
  let prefix = tagPrefixes.get(domain)
  if (!prefix) {
    const t = createHash('sha256')
      .update(SIGNATURE_TAG_PREFIX + domain)
      .digest()
    prefix = Buffer.concat([t, t])
    if (tagPrefixes.size >= 256) tagPrefixes.clear()
    tagPrefixes.set(domain, prefix)
  }
  return prefix
}

/**
 * The 32-byte message a signature signs: the BIP-340 tagged hash with tag
 * `p2pd/v1/<domain>` over the signer's full 33-byte public key and the message. Hashing the
 * full key (not only BIP-340's x-only key) means a signature made for node ID `02‖x` never
 * verifies for `03‖x`; the tag means a signature made for one purpose never verifies for another.
 */
function digest(domain: string, signerPublicKey: Uint8Array, message: Uint8Array): Uint8Array {
  return createHash('sha256')
    .update(tagPrefix(domain))
    .update(signerPublicKey)
    .update(message)
    .digest()
}

/** @internal {@link sign} with explicit BIP-340 aux randomness, for deterministic test vectors. */
export function signWithAux(
  identity: Identity,
  domain: string,
  message: Uint8Array,
  auxRand?: Uint8Array,
): Uint8Array {
  if (!isSignatureDomain(domain)) {
    throw new IdentityError(
      'IDENTITY_INVALID_DOMAIN',
      'domain must match [a-z0-9][a-z0-9._:/-]{0,63}',
    )
  }
  const publicKey = fromHex(identity.nodeId) as Uint8Array
  return schnorr.sign(digest(domain, publicKey, message), secretKeyOf(identity), auxRand)
}

/**
 * Signs `message` for `domain` (e.g. `'signal'`; tagged `p2pd/v1/signal`) with BIP-340 Schnorr.
 * Returns 64 bytes.
 * @throws {@link IdentityError} `IDENTITY_INVALID_DOMAIN` for a malformed domain.
 */
export function sign(identity: Identity, domain: string, message: Uint8Array): Uint8Array {
  return signWithAux(identity, domain, message)
}

/**
 * True when `signature` is `nodeId`'s signature of `message` for `domain`. Never throws: any
 * bad input (malformed or legacy node ID, bad domain, wrong length, not bytes) gives `false`.
 */
export function verify(
  nodeId: string,
  domain: string,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    if (!isSignatureDomain(domain) || !isNodeId(nodeId)) return false
    if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false
    if (signature.length !== SIGNATURE_LENGTH) return false
    const publicKey = fromHex(nodeId) as Uint8Array
    return schnorr.verify(signature, digest(domain, publicKey, message), publicKey.subarray(1))
  } catch {
    return false
  }
}
