/**
 * @packageDocumentation
 * TURN for p2pd: the relay that makes connectivity 100 % when nothing direct works.
 *
 * - {@link TurnClient}: RFC 8656 client over UDP, TCP or TLS — long-term credentials
 *   (401/438, MESSAGE-INTEGRITY-SHA256 when offered), refreshes, permissions, channels,
 *   Send/Data indications, deallocation on close, typed {@link TurnError}s.
 * - {@link TurnTcpClient}: RFC 6062 TCP allocations — `connect(peer)` (Connect +
 *   ConnectionBind) gives a raw socket to the peer; permitted peers arrive as `'connection'`.
 * - {@link ReliableStream}: an ordered, reliable, flow- and congestion-controlled byte stream
 *   over any lossy {@link DatagramLink} (e.g. `client.link(peer)`), as a Node `Duplex`.
 * - {@link turn}: the `Strategy` — offer/answer over signaling; TCP relays first (the pipe on
 *   the relayed byte stream), else UDP relays and the reliable stream; wrapped by the node's
 *   secure channel into the same `Pipe` as every other strategy.
 * - {@link TurnServer}: a small TURN server (UDP allocations over UDP, TCP allocations over
 *   TCP) for tests and demos (not a coturn replacement).
 *
 * No TURN server or credential is built in: pass your own.
 *
 * @example
 * ```ts
 * import { ReliableStream, TurnClient, TurnServer, turn } from '@p2pd/turn'
 *
 * // A local server (127.0.0.1, any free port); loopback peers only for this demo.
 * const server = new TurnServer({ users: { alice: 's3cret' }, allowLoopbackPeers: true })
 * const { host, port } = await server.start()
 *
 * const a = await TurnClient.allocate({ host, port, username: 'alice', password: 's3cret' })
 * const b = await TurnClient.allocate({ host, port, username: 'alice', password: 's3cret' })
 * await a.bindChannel(b.relayed)
 * await b.bindChannel(a.relayed)
 *
 * // A reliable byte stream between the two relayed addresses.
 * const x = new ReliableStream(a.link(b.relayed, { closeClient: true }), { conv: 7 })
 * const y = new ReliableStream(b.link(a.relayed, { closeClient: true }), { conv: 7 })
 * y.on('data', (d) => console.log(`${d}`)) // "hello through the relay"
 * x.end('hello through the relay')
 *
 * // Or as a node strategy: createNode({ signaling, strategies: [direct(), turn({ servers })] })
 * const strategy = turn({ servers: [{ host, port, username: 'alice', password: 's3cret' }] })
 * ```
 */

export { LongTermAuth, PasswordAlgorithm, parsePasswordAlgorithms } from './client/auth.js'
export {
  MAX_INBOUND_BINDS,
  TurnTcpClient,
  type TurnTcpClientEvents,
  type TurnTcpClientOptions,
  type TurnTcpConnectOptions,
} from './client/tcp-client.js'
export type { TurnTransport } from './client/transport.js'
export {
  TurnClient,
  type TurnClientEvents,
  type TurnClientOptions,
  type TurnClientStats,
  type TurnServerConfig,
} from './client/turn-client.js'
export {
  isRelayLost,
  StreamError,
  type StreamErrorCode,
  TurnError,
  type TurnErrorCode,
  turnErrorCodeFor,
} from './errors.js'
export { NonceIssuer } from './server/nonce.js'
export { classifyPeer, type PeerClass, type PeerPolicy, peerAllowed } from './server/peer-policy.js'
export type { RateBudget } from './server/rate-limit.js'
export type { TurnLimits } from './server/stranger-guard.js'
export type { TcpRelayStats, TurnTcpOptions } from './server/tcp-relay.js'
export { TurnServer, type TurnServerOptions, type TurnServerStats } from './server/turn-server.js'
export {
  RELAY_IDLE_TIMEOUT_MS,
  RELAY_KEEPALIVE_MS,
  type TurnAnswer,
  type TurnInit,
  type TurnOffer,
  turn,
} from './strategy.js'
export type { DatagramLink } from './stream/link.js'
export {
  createMemoryLinkPair,
  type MemoryLinkOptions,
  type MemoryLinkStats,
} from './stream/memory-link.js'
export {
  ACK_FIXED_BYTES,
  AckFlag,
  type AckPacket,
  DATA_HEADER_BYTES,
  DataFlag,
  type DataPacket,
  decodePacket,
  encodeAck,
  encodeData,
  encodeRst,
  HEADER_BYTES,
  MAX_SACK_RANGES,
  type Packet,
  PacketType,
  type ProbeAckPacket,
  type ProbePacket,
  type RstPacket,
  RstReason,
  type SackRange,
  STREAM_VERSION,
} from './stream/packet.js'
export {
  ReliableStream,
  type ReliableStreamOptions,
  type ReliableStreamStats,
} from './stream/reliable-stream.js'
export { RttEstimator, type RttOptions } from './stream/rtt.js'
export { RELAY_END_GRACE_MS, RelayedTcpStream } from './tcp-stream.js'
