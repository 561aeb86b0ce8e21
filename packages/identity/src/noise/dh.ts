import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'

/** Noise `DHLEN` for 25519. */
export const DHLEN = 32

/**
 * An X25519 key pair as node:crypto `KeyObject`s (rebuilding them for every DH is what made
 * libp2p's dial slow, so they are built once) plus the raw 32-byte public key Noise sends.
 */
export interface X25519KeyPair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly publicRaw: Buffer
}

// DER wrapper around a raw 32-byte X25519 secret (RFC 8410), for injected test keys only.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

// Raw keys go in and out of KeyObjects as JWK, not DER: OpenSSL 3's DER encoder/decoder path
// costs 100–300 µs per call here, the JWK path 2–50 µs — several times per handshake.
function rawPublic(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
}

/** Noise `GENERATE_KEYPAIR()`. */
export function generateX25519(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  return { privateKey, publicKey, publicRaw: rawPublic(publicKey) }
}

/** The key pair of a raw 32-byte X25519 secret (test vectors inject ephemeral keys this way). */
export function x25519FromSecret(secret: Uint8Array): X25519KeyPair {
  if (secret.length !== DHLEN) throw new RangeError('an X25519 secret key is 32 bytes')
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, secret]),
    format: 'der',
    type: 'pkcs8',
  })
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, publicRaw: rawPublic(publicKey) }
}

/** A raw 32-byte X25519 public key as a `KeyObject`. */
export function x25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== DHLEN) throw new RangeError('an X25519 public key is 32 bytes')
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  })
}

/**
 * Noise `DH()`. OpenSSL rejects low-order public keys (an all-zero shared secret) by throwing,
 * which the handshake turns into a typed error.
 */
export function dh(pair: X25519KeyPair, publicKey: KeyObject): Buffer {
  return diffieHellman({ privateKey: pair.privateKey, publicKey })
}
