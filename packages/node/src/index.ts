/**
 * @packageDocumentation
 * The p2pd node: an identity, a TCP listener, a signaling backend and an ordered list of
 * connect strategies, composed into authenticated, encrypted pipes to other nodes.
 *
 * Strategies race in order with per-stage deadlines; the first authenticated pipe wins and
 * is *nominated* (both sides keep exactly that one). Every connect yields a
 * {@link ConnectionReport}.
 *
 * @example
 * ```ts
 * import { createNode, direct, reverse } from '@p2pd/node'
 * import { MemorySignalingHub } from '@p2pd/interface'
 *
 * const hub = new MemorySignalingHub() // or mqttSignaling(...) from @p2pd/signal-mqtt
 * const alice = createNode({ signaling: (id) => hub.connect(id.nodeId) })
 * const bob = createNode({ signaling: (id) => hub.connect(id.nodeId) })
 * await alice.start()
 * const bobAddress = await bob.start()
 *
 * const pipe = await alice.connect(bobAddress) // authenticated + encrypted Duplex
 * pipe.write('hello')
 * for await (const incoming of bob.incoming) {
 *   incoming.on('data', (d) => console.log(`${incoming.remotePeer}: ${d}`))
 *   break
 * }
 * ```
 */

export { directCandidates, isReachable, type Vicinity, vicinity } from './candidates.js'
export { type StunInterfacesInit, stunInterfaces } from './discover.js'
export { NodeError } from './errors.js'
export { defaultInboundLimits, type InboundLimits } from './inbound-limits.js'
export type { InboundStage, InboundStats, RefusalReason } from './inbound-stats.js'
export { IncomingPipes } from './incoming.js'
export { networkFingerprint, watchNetwork } from './network-watch.js'
export {
  type ConnectedPipe,
  type ConnectOptions,
  createNode,
  type InterfaceInit,
  type NodeEvents,
  type NodeHealth,
  type NodeInit,
  P2pdNode,
  type Upgrade,
} from './node.js'
export { looksLikeName, type NameLookup } from './node-types.js'
export { ConnectError, defaultHeadStartMs, defaultStageTimeoutMs } from './pipeline.js'
export type { PortMappingInit } from './port-mapping.js'
export { ConnectionKind, decodePreamble, encodePreamble, type Preamble } from './preamble.js'
export type { Reconnected, ReconnectFailed, RelayLost } from './relay-recovery.js'
export { type ConnectionReport, formatReport, type StageReport } from './report.js'
export { type DirectInit, direct } from './strategies/direct.js'
export { type ReverseInit, type ReverseRequest, reverse } from './strategies/reverse.js'
