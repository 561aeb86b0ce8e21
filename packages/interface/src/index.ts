/**
 * @packageDocumentation
 * The contracts every p2pd package shares, and nothing else: types, a few small classes and
 * pure helpers, no runtime dependencies.
 *
 * - {@link Pipe}: an authenticated, encrypted `Duplex` to one peer.
 * - {@link Signaling}: how nodes exchange small coordination messages (MQTT, in-memory, yours).
 * - {@link Strategy}: one way to get a connection (direct, reverse, punch, TURN, yours).
 * - {@link Clock}: a skew-corrected wall clock with an uncertainty bound.
 * - The NAT model ({@link NatType}, {@link DeltaType}), numbered as P2PD numbers them.
 * - {@link P2pdError}: the base of every typed error, with a stable `code`.
 *
 * @example
 * ```ts
 * import { Deadline, NatType, isP2pdError } from '@p2pd/interface'
 *
 * const deadline = new Deadline(2_000) // its signal aborts with a TimeoutError after 2 s
 * deadline.dispose() // the operation settled: release the timer
 * console.log(NatType.FullCone) // 3
 * ```
 */

export { abortReason, sleep, throwIfAborted } from './abort.js'
export { type Clock, systemClock } from './clock.js'
export { Deadline, linkSignals, type ParentSignals, withDeadline } from './deadline.js'
export { AbortError, isP2pdError, P2pdError, TimeoutError } from './errors.js'
export { MemorySignalingHub } from './memory-signaling.js'
export {
  type Delta,
  DeltaType,
  deltaTypeName,
  isEndpointIndependent,
  isOpenNat,
  isUnpredictableNat,
  type NatInfo,
  NatType,
  natTypeName,
  type TcpFilter,
} from './nat.js'
export type { AddressInterface, PeerAddress, SignalTarget } from './peer-address.js'
export type { Endpoint, Pipe, PipePath, StrategyName } from './pipe.js'
export {
  type InboundSignal,
  type SignalHandler,
  type Signaling,
  type SignalMessage,
  waitForSignal,
} from './signaling.js'
export type { RawConnection, Strategy, StrategyContext } from './strategy.js'
