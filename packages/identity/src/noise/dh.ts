import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'

/** Noise `DHLEN` for 25519. */
export const DHLEN = 32

/**
 * An X25519 key pair: the private key as a node:crypto `KeyObject` (rebuilding it for every DH
 * is what made libp2p's dial slow, so it is built once) and the raw 32-byte public key Noise
 * sends.
 */
export interface X25519KeyPair {
  readonly privateKey: KeyObject
  readonly publicRaw: Buffer
}

// DER wrapper around a raw 32-byte X25519 secret (RFC 8410), for injected test keys only.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

// Raw keys go in and out of KeyObjects as JWK, not DER: OpenSSL 3's DER encoder/decoder path
// costs 100–300 µs per call here, the JWK path 2–50 µs — several times per handshake.
function rawPublic(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
}

const AS_JWK = {
  publicKeyEncoding: { format: 'jwk' },
  privateKeyEncoding: { format: 'jwk' },
} as const

/** `generateKeyPairSync('x25519')` with JWK output: Node has it, its type definitions do not. */
const generateJwkPair = generateKeyPairSync as unknown as (
  type: 'x25519',
  options: typeof AS_JWK,
) => { readonly privateKey: JsonWebKey }

/**
 * Noise `GENERATE_KEYPAIR()`.
 *
 * The pair comes out of `generateKeyPairSync` as JWK and the private key is imported afresh,
 * so no `KeyObject` we keep shares its key with the generation job. Node (20, and its main branch
 * as of this writing) frees that job from a garbage-collector callback that locks the key's
 * mutex, and `KeyObject.export()` holds the same mutex while it allocates: a collection there
 * deadlocks the whole process. Generating and exporting as before hung 5 of 9 runs of 40,000
 * keys with other allocations between them, and a bench holding 10,000 pipes; this way no run
 * hung, 1.2 million keys in all. It costs ~20 µs a key.
 */
export function generateX25519(): X25519KeyPair {
  const { privateKey: jwk } = generateJwkPair('x25519', AS_JWK)
  return {
    privateKey: createPrivateKey({ key: jwk, format: 'jwk' }),
    publicRaw: Buffer.from(jwk.x as string, 'base64url'),
  }
}

/** The key pair of a raw 32-byte X25519 secret (test vectors inject ephemeral keys this way). */
export function x25519FromSecret(secret: Uint8Array): X25519KeyPair {
  if (secret.length !== DHLEN) throw new RangeError('an X25519 secret key is 32 bytes')
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, secret]),
    format: 'der',
    type: 'pkcs8',
  })
  return { privateKey, publicRaw: rawPublic(createPublicKey(privateKey)) }
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
