/**
 * @packageDocumentation
 * STUN for p2pd: a strict codec (RFC 8489, RFC 5780 attributes, legacy RFC 3489 ones), a UDP
 * and TCP client (retransmission, framing, matching by transaction id *and* source, server
 * pools with health scoring) and an RFC 5780 behaviour-discovery server.
 *
 * - Codec: {@link createMessage}, {@link encodeMessage}, {@link decodeMessage}, {@link attr},
 *   {@link readAttributes}, {@link verifyIntegrity}, {@link longTermKey}. Method/class generic,
 *   so the TURN client builds on it.
 * - Client: {@link StunUdpClient}, {@link StunTcpClient}, {@link StunServerPool}.
 * - Server: {@link StunServer} (defaults: 127.0.0.1 + 127.0.0.2, no root needed).
 * - Streams: {@link StunFramer}, {@link createStunFrameStream}.
 *
 * @example
 * ```ts
 * import { StunServer, StunUdpClient } from '@p2pd/stun'
 *
 * const server = new StunServer() // UDP+TCP on 127.0.0.1 and 127.0.0.2, two free ports
 * await server.start()
 * const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
 * const r = await client.binding(server.primary, { timeoutMs: 2_000 })
 * console.log(r.mapped, r.attributes.otherAddress) // our socket, 127.0.0.2:<alt port>
 * const changed = await client.binding(server.primary, {
 *   changeRequest: { changeIp: true, changePort: true },
 * })
 * console.log(changed.from) // the reply came from OTHER-ADDRESS
 * await client.close()
 * await server.close()
 * ```
 */

export {
  decodeAddress,
  decodeXorAddress,
  encodeAddress,
  encodeXorAddress,
  type StunAddress,
} from './attributes/address.js'
export { attr, MAX_PADDING } from './attributes/build.js'
export { readAttributes, reflexiveAddress, type StunAttributes } from './attributes/read.js'
export {
  type ChangeRequest,
  decodeChangeRequest,
  decodeConnectionId,
  decodeErrorCode,
  decodeRequestedTransport,
  decodeResponsePort,
  decodeText,
  decodeUint32,
  decodeUnknownAttributes,
  type ErrorCodeValue,
  encodeChangeRequest,
  encodeConnectionId,
  encodeErrorCode,
  encodeRequestedTransport,
  encodeResponsePort,
  encodeText,
  encodeUint32,
  encodeUnknownAttributes,
  MAX_TEXT_BYTES,
  MAX_USERNAME_BYTES,
} from './attributes/values.js'
export {
  type BindingOptions,
  type BindingRequestOptions,
  type BindingResult,
  bindingRequest,
  bindingResult,
  bindingSourceCheck,
  type RetransmitOptions,
  type TransactionOptions,
  type TransactionResult,
} from './client/binding.js'
export { healthScore, type ServerHealth } from './client/health.js'
export { type PoolBinding, type PoolQueryOptions, StunServerPool } from './client/pool.js'
export { parseServer, type ResolveOptions, resolveServer } from './client/resolve.js'
export { StunTcpClient, type StunTcpConnectOptions } from './client/tcp-client.js'
export {
  StunUdpClient,
  type StunUdpClientOptions,
  type UdpTransactionOptions,
} from './client/udp-client.js'
export {
  type CreateMessageInit,
  createMessage,
  type DecodedAttribute,
  type DecodedStunMessage,
  type DecodeOptions,
  decodeMessage,
  type EncodeOptions,
  encodeMessage,
  findAttribute,
  type IntegrityOptions,
  isStunMessage,
  type StunAttribute,
  type StunMessage,
} from './codec/message.js'
export { decodeMessageType, encodeMessageType } from './codec/message-type.js'
export { newTransactionId, transactionKey } from './codec/transaction-id.js'
export {
  AttrType,
  DEFAULT_STUN_PORT,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  isComprehensionRequired,
  MAGIC_COOKIE,
  StunClass,
  StunMethod,
  TRANSACTION_ID_LENGTH,
  TransportProtocol,
} from './constants.js'
export { StunError, type StunErrorCode } from './errors.js'
export {
  createStunFrameStream,
  type StunFrame,
  StunFramer,
  type StunFramerOptions,
} from './framing.js'
export { hasFingerprint, longTermKey, shortTermKey, verifyIntegrity } from './integrity.js'
export { bytesToIp, ipFamily, ipToBytes, normalizeIp, sameEndpoint } from './ip.js'
export { RateLimiter, type RateLimitOptions } from './server/rate-limit.js'
export { type Reply, type RespondContext, respond, type Slot } from './server/respond.js'
export { StunServer, type StunServerOptions, type StunServerStats } from './server/stun-server.js'
export {
  decodeTcpCallback,
  decodeTcpCallbackResult,
  encodeTcpCallback,
  encodeTcpCallbackResult,
  TCP_CALLBACK,
  TCP_CALLBACK_MAX_MS,
  TCP_CALLBACK_MIN_MS,
  TCP_CALLBACK_RESULT,
  type TcpCallbackOutcome,
  type TcpCallbackRequest,
  type TcpCallbackResult,
} from './tcp-callback/attributes.js'
export { TcpCallbackDialer, type TcpCallbackLimits } from './tcp-callback/dialer.js'
