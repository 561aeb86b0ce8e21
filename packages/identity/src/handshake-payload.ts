import { toHex } from './bytes.js'
import { ECDSA_SIGNATURE_LENGTH, ecdsaSign, ecdsaVerify } from './ecdsa.js'
import { ChannelError } from './errors.js'
import type { Identity } from './keys.js'
import { nodeIdToPublicKey } from './keys.js'
import { generateX25519, type X25519KeyPair } from './noise/dh.js'

/**
 * Signature domain binding a node ID to a Noise static key: ECDSA-secp256k1 low-s (see
 * `ecdsa.ts` for why not BIP-340 here), tag `p2pd/v1-ecdsa/noise-static-key`.
 */
export const STATIC_KEY_DOMAIN = 'noise-static-key'

/** Handshake payload: compressed node public key (33) ‖ ECDSA signature r ‖ s (64). */
export const IDENTITY_PAYLOAD_LENGTH = 33 + ECDSA_SIGNATURE_LENGTH

/** A Noise static key and the identity payload proving who owns it. */
export interface NoiseCredentials {
  readonly staticKey: X25519KeyPair
  readonly payload: Buffer
}

// One X25519 static key per identity per process, signed once: signing costs milliseconds,
// and caching the KeyObjects is what keeps a dial cheap. Forward secrecy comes from `ee`.
const cache = new WeakMap<Identity, NoiseCredentials>()

/** The cached Noise credentials of `identity` (created on first use). */
export function noiseCredentials(identity: Identity): NoiseCredentials {
  let credentials = cache.get(identity)
  if (!credentials) {
    const staticKey = generateX25519()
    const signature = ecdsaSign(identity, STATIC_KEY_DOMAIN, staticKey.publicRaw)
    const payload = Buffer.concat([nodeIdToPublicKey(identity.nodeId), signature])
    credentials = { staticKey, payload }
    cache.set(identity, credentials)
  }
  return credentials
}

/**
 * Checks a peer's identity payload against the static key the handshake proved, returning the
 * peer's node ID. @throws `ChannelError` `CHANNEL_AUTH`.
 */
export function verifyIdentityPayload(payload: Buffer, remoteStatic: Buffer): string {
  if (payload.length !== IDENTITY_PAYLOAD_LENGTH) {
    throw new ChannelError('CHANNEL_AUTH', 'bad identity payload length')
  }
  // ecdsaVerify also rejects a key that is not a valid compressed point (so not a node ID).
  const publicKey = payload.subarray(0, 33)
  if (!ecdsaVerify(publicKey, STATIC_KEY_DOMAIN, remoteStatic, payload.subarray(33))) {
    throw new ChannelError('CHANNEL_AUTH', 'peer signature over its static key does not verify')
  }
  return toHex(publicKey)
}
