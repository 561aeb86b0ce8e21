import { createCipheriv, createDecipheriv, createECDH, type ECDH, hkdfSync } from 'node:crypto'
import { asBuffer, concatBytes, toHex, utf8 } from './bytes.js'
import { IdentityError } from './errors.js'
import { type Identity, isNodeId, nodeIdToPublicKey, secretKeyOf } from './keys.js'
import { isSignatureDomain, SIGNATURE_LENGTH, signWithAux, verify } from './signature.js'

/** Format version, the first byte of every box. */
export const SEALED_BOX_VERSION = 1

/** Bytes a box adds to its plaintext: version 1 + ephemeral key 33 + sender 33 + signature 64 + tag 16. */
export const SEALED_BOX_OVERHEAD = 1 + 33 + 33 + SIGNATURE_LENGTH + 16

/** Default plaintext limit (signaling payloads are small). */
export const DEFAULT_MAX_SEALED_PLAINTEXT = 64 * 1024

/** Hard plaintext limit; `maxPlaintext` cannot exceed it. */
export const MAX_SEALED_PLAINTEXT = 16 * 1024 * 1024

const HEADER_LENGTH = 1 + 33
const TAG_LENGTH = 16

/** Options of {@link seal} and {@link open}. */
export interface SealedBoxOptions {
  /**
   * What the box is for (default `'signal'`). It is mixed into the key derivation and the
   * sender's signature (`p2pd/v1/box/<domain>`), so a box sealed for one purpose never opens
   * for another. Same shape as a signature domain.
   */
  readonly domain?: string
  /** Largest plaintext accepted (default 64 KiB, at most 16 MiB). */
  readonly maxPlaintext?: number
}

/** What {@link open} returns. */
export interface OpenedBox {
  /** The sender's node ID, proven by its signature inside the box. */
  readonly from: string
  readonly plaintext: Uint8Array
}

function checkOptions(options: SealedBoxOptions | undefined): { domain: string; max: number } {
  const domain = options?.domain ?? 'signal'
  if (!isSignatureDomain(domain)) {
    throw new IdentityError(
      'IDENTITY_INVALID_DOMAIN',
      'domain must match [a-z0-9][a-z0-9._:/-]{0,63}',
    )
  }
  const max = options?.maxPlaintext ?? DEFAULT_MAX_SEALED_PLAINTEXT
  if (!Number.isSafeInteger(max) || max < 0 || max > MAX_SEALED_PLAINTEXT) {
    throw new RangeError(`maxPlaintext must be an integer in [0, ${MAX_SEALED_PLAINTEXT}]`)
  }
  return { domain, max }
}

/**
 * Key and nonce from the ECDH x-coordinate. The salt binds the version, the ephemeral key and
 * the recipient; the info binds the domain. The ephemeral key is fresh for every box, so a
 * derived nonce never repeats under one key.
 */
function deriveKeys(
  shared: Uint8Array,
  ephemeralPublicKey: Uint8Array,
  recipientPublicKey: Uint8Array,
  domain: string,
): { key: Buffer; nonce: Buffer } {
  const salt = concatBytes(
    Uint8Array.of(SEALED_BOX_VERSION),
    ephemeralPublicKey,
    recipientPublicKey,
  )
  const okm = Buffer.from(hkdfSync('sha256', shared, salt, utf8(`p2pd/v1/box/${domain}`), 44))
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) }
}

/** What the sender signs: version ‖ ephemeral key ‖ recipient key ‖ plaintext. */
function signedPart(
  ephemeralPublicKey: Uint8Array,
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  return concatBytes(
    Uint8Array.of(SEALED_BOX_VERSION),
    ephemeralPublicKey,
    recipientPublicKey,
    plaintext,
  )
}

/**
 * @internal {@link seal} with an injected ephemeral secret key and signature aux randomness,
 * for deterministic test vectors only. Never reuse an ephemeral key.
 */
export function sealWith(
  sender: Identity,
  recipientNodeId: string,
  plaintext: Uint8Array,
  options: SealedBoxOptions | undefined,
  ephemeralSecretKey: Uint8Array | undefined,
  auxRand: Uint8Array | undefined,
): Uint8Array {
  const { domain, max } = checkOptions(options)
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array')
  if (plaintext.length > max) {
    throw new IdentityError('IDENTITY_BOX_TOO_LARGE', `plaintext over ${max} bytes`)
  }
  const recipientPublicKey = nodeIdToPublicKey(recipientNodeId)
  const ecdh = createECDH('secp256k1')
  if (ephemeralSecretKey) ecdh.setPrivateKey(ephemeralSecretKey)
  else ecdh.generateKeys()
  const ephemeralPublicKey = ecdh.getPublicKey(null, 'compressed')
  const shared = ecdh.computeSecret(recipientPublicKey)
  const { key, nonce } = deriveKeys(shared, ephemeralPublicKey, recipientPublicKey, domain)

  const signature = signWithAux(
    sender,
    `box/${domain}`,
    signedPart(ephemeralPublicKey, recipientPublicKey, plaintext),
    auxRand,
  )
  const box = Buffer.allocUnsafe(SEALED_BOX_OVERHEAD + plaintext.length)
  box[0] = SEALED_BOX_VERSION
  ephemeralPublicKey.copy(box, 1)
  const header = box.subarray(0, HEADER_LENGTH)
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LENGTH })
  const innerLength = 33 + SIGNATURE_LENGTH + plaintext.length
  cipher.setAAD(header, { plaintextLength: innerLength })
  let offset = HEADER_LENGTH
  for (const part of [nodeIdToPublicKey(sender.nodeId), signature, plaintext]) {
    const ct = cipher.update(part)
    ct.copy(box, offset)
    offset += ct.length
  }
  offset += cipher.final().copy(box, offset)
  cipher.getAuthTag().copy(box, offset)
  return new Uint8Array(box.buffer, box.byteOffset, box.byteLength)
}

/**
 * Encrypts `plaintext` to `recipientNodeId`, signed by `sender`. Only the recipient can open it;
 * opening proves who sealed it (the sender's node ID and signature are inside the ciphertext,
 * so an observer learns neither). The box is `SEALED_BOX_OVERHEAD` (147) bytes longer than the
 * plaintext.
 *
 * Format (version 1): `0x01 ‖ ephemeral pk (33) ‖ ChaCha20-Poly1305(sender pk (33) ‖ sig (64) ‖
 * plaintext) ‖ tag (16)`; key and nonce = HKDF-SHA256(ECDH(ephemeral, recipient).x,
 * salt = 0x01 ‖ ephemeral pk ‖ recipient pk, info = `p2pd/v1/box/<domain>`); AAD = the header;
 * the signature (domain `box/<domain>`) covers version ‖ ephemeral pk ‖ recipient pk ‖ plaintext.
 *
 * Not replay-protected: the same box opens every time. Signaling adds timestamps and ids.
 * @throws {@link IdentityError} `IDENTITY_INVALID_NODE_ID`, `IDENTITY_INVALID_DOMAIN`,
 *   `IDENTITY_BOX_TOO_LARGE`.
 */
export function seal(
  sender: Identity,
  recipientNodeId: string,
  plaintext: Uint8Array,
  options?: SealedBoxOptions,
): Uint8Array {
  return sealWith(sender, recipientNodeId, plaintext, options, undefined, undefined)
}

// One ECDH object per recipient identity: node:crypto's secp256k1 is ~2× noble's here.
const recipientEcdh = new WeakMap<Identity, ECDH>()

function ecdhOf(identity: Identity): ECDH {
  let ecdh = recipientEcdh.get(identity)
  if (!ecdh) {
    ecdh = createECDH('secp256k1')
    ecdh.setPrivateKey(secretKeyOf(identity))
    recipientEcdh.set(identity, ecdh)
  }
  return ecdh
}

/**
 * Opens a box sealed to `recipient`: decrypts it and verifies the sender's signature.
 * Never throws anything but an {@link IdentityError}:
 * `IDENTITY_BOX_MALFORMED` (short, bad ephemeral key, bad sender key),
 * `IDENTITY_BOX_VERSION`, `IDENTITY_BOX_TOO_LARGE`, `IDENTITY_BOX_DECRYPT` (tampered, or not for
 * us, or another domain), `IDENTITY_BOX_SIGNATURE`; and `IDENTITY_INVALID_DOMAIN` for bad options.
 */
export function open(recipient: Identity, box: Uint8Array, options?: SealedBoxOptions): OpenedBox {
  let domain: string
  let max: number
  try {
    ;({ domain, max } = checkOptions(options))
  } catch (err) {
    if (err instanceof IdentityError) throw err
    throw new IdentityError('IDENTITY_INVALID_DOMAIN', 'bad sealed box options', { cause: err })
  }
  if (!(box instanceof Uint8Array) || box.length < SEALED_BOX_OVERHEAD) {
    throw new IdentityError('IDENTITY_BOX_MALFORMED', 'sealed box too short')
  }
  if (box[0] !== SEALED_BOX_VERSION) {
    throw new IdentityError('IDENTITY_BOX_VERSION', `unsupported sealed box version ${box[0]}`)
  }
  if (box.length - SEALED_BOX_OVERHEAD > max) {
    throw new IdentityError('IDENTITY_BOX_TOO_LARGE', `sealed plaintext over ${max} bytes`)
  }
  const bytes = asBuffer(box)
  const header = bytes.subarray(0, HEADER_LENGTH)
  const ephemeralPublicKey = bytes.subarray(1, HEADER_LENGTH)
  if (ephemeralPublicKey[0] !== 2 && ephemeralPublicKey[0] !== 3) {
    throw new IdentityError('IDENTITY_BOX_MALFORMED', 'ephemeral key is not compressed')
  }
  const recipientPublicKey = nodeIdToPublicKey(recipient.nodeId)
  let shared: Buffer
  try {
    shared = ecdhOf(recipient).computeSecret(ephemeralPublicKey)
  } catch (err) {
    throw new IdentityError('IDENTITY_BOX_MALFORMED', 'ephemeral key is not on the curve', {
      cause: err,
    })
  }
  const { key, nonce } = deriveKeys(shared, ephemeralPublicKey, recipientPublicKey, domain)
  const ciphertext = bytes.subarray(HEADER_LENGTH, bytes.length - TAG_LENGTH)
  let inner: Buffer
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, {
      authTagLength: TAG_LENGTH,
    })
    decipher.setAAD(header, { plaintextLength: ciphertext.length })
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_LENGTH))
    inner = decipher.update(ciphertext)
    decipher.final()
  } catch (err) {
    throw new IdentityError('IDENTITY_BOX_DECRYPT', 'sealed box failed authentication', {
      cause: err,
    })
  }
  const from = toHex(inner.subarray(0, 33))
  if (!isNodeId(from)) throw new IdentityError('IDENTITY_BOX_MALFORMED', 'bad sender key')
  const signature = inner.subarray(33, 33 + SIGNATURE_LENGTH)
  const plaintext = inner.subarray(33 + SIGNATURE_LENGTH)
  const signed = signedPart(ephemeralPublicKey, recipientPublicKey, plaintext)
  if (!verify(from, `box/${domain}`, signed, signature)) {
    throw new IdentityError('IDENTITY_BOX_SIGNATURE', 'sender signature does not verify')
  }
  return {
    from,
    plaintext: new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length),
  }
}
