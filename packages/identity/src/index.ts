/**
 * @packageDocumentation
 * Who a p2pd node is, and how it talks to another node without anyone listening in:
 *
 * - {@link Identity}: a secp256k1 key pair; the node ID is the compressed public key (66 hex).
 *   Key files ({@link saveIdentity}, {@link loadIdentity}) are created 0600 and refused when
 *   others can read them; the secret never shows in logs.
 * - {@link sign} / {@link verify}: BIP-340 Schnorr over domain-separated messages.
 * - {@link seal} / {@link open}: sealed boxes for signaling payloads: encrypted to one node,
 *   signed by the sender inside the ciphertext.
 * - {@link secureChannel}: turns any `Duplex` into an authenticated, encrypted `Pipe` with a
 *   Noise_XX_25519_ChaChaPoly_SHA256 handshake bound to both node IDs.
 *
 * @example
 * ```ts
 * import { createConnection } from 'node:net'
 * import { generateIdentity, open, seal, secureChannel } from '@p2pd/identity'
 *
 * const alice = generateIdentity()
 * const bob = generateIdentity()
 *
 * // A signaling payload only Bob can read, provably from Alice.
 * const box = seal(alice, bob.nodeId, new TextEncoder().encode('hello'))
 * const { from, plaintext } = open(bob, box) // from === alice.nodeId
 *
 * // A pipe to Bob over TCP: fails unless the peer proves it is Bob.
 * const socket = createConnection({ host: '127.0.0.1', port: 4000 })
 * const pipe = await secureChannel(socket, {
 *   identity: alice,
 *   expectedPeer: bob.nodeId,
 *   initiator: true,
 *   timeoutMs: 5_000,
 * })
 * pipe.write('hi Bob')
 * ```
 */

export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_REKEY_INTERVAL,
  type ExpectedPeer,
  type SecureChannelOptions,
  secureChannel,
} from './channel.js'
export {
  ChannelError,
  type ChannelErrorCode,
  IdentityError,
  type IdentityErrorCode,
} from './errors.js'
export { MAX_FRAME_LENGTH, MAX_FRAME_PLAINTEXT } from './framing.js'
export { HELLO_LENGTH } from './hello.js'
export {
  type KeyFileJson,
  type KeyFileOptions,
  loadIdentity,
  loadOrCreateIdentity,
  saveIdentity,
} from './keyfile.js'
export {
  generateIdentity,
  Identity,
  identityFromSecret,
  isNodeId,
  legacyNodeId,
  NODE_ID_LENGTH,
  nodeIdToPublicKey,
  SECRET_KEY_LENGTH,
} from './keys.js'
export type { NoiseCipher } from './noise/cipher-state.js'
export { NOISE_PROTOCOL_NAME, noiseProtocolName } from './noise/handshake.js'
export {
  DEFAULT_MAX_SEALED_PLAINTEXT,
  MAX_SEALED_PLAINTEXT,
  type OpenedBox,
  open,
  SEALED_BOX_OVERHEAD,
  SEALED_BOX_VERSION,
  type SealedBoxOptions,
  seal,
} from './sealed-box.js'
export { SecurePipe } from './secure-pipe.js'
export {
  isSignatureDomain,
  SIGNATURE_LENGTH,
  SIGNATURE_TAG_PREFIX,
  sign,
  verify,
} from './signature.js'
