/**
 * @packageDocumentation
 * TCP hole punching for p2pd: a `Strategy` that gets two nodes behind NATs a direct TCP
 * connection by simultaneous open. Fresh mappings are observed over STUN-over-TCP just before
 * and held open; an offer/answer/ready/ack exchange over signaling agrees a meeting instant
 * from the measured signaling round trip and both clocks' uncertainty; then capped, jittered,
 * staggered connects fire from the held ports (or the side whose NAT accepts unsolicited SYNs
 * listens). The node authenticates the one socket both sides keep with its secure channel.
 *
 * @example
 * ```ts
 * import { MemorySignalingHub } from '@p2pd/interface'
 * import { createNode } from '@p2pd/node'
 * import { punch } from '@p2pd/punch'
 *
 * const hub = new MemorySignalingHub()
 * const strategies = [punch({ stunServers: ['127.0.0.1:3478'] })]
 * const a = createNode({ signaling: (id) => hub.connect(id.nodeId), strategies })
 * const b = createNode({ signaling: (id) => hub.connect(id.nodeId), strategies })
 * await a.start()
 * const pipe = await a.connect(await b.start()) // pipe.strategy === 'punch'
 * ```
 */

export { PunchError, type PunchErrorCode } from './errors.js'
export { HeldMappings, localMappings, observeMappings, type StunServerSpec } from './mappings.js'
export {
  acceptsUnsolicited,
  chooseAcceptor,
  type DialPair,
  dialPairs,
  effectiveNat,
  type InterfacePair,
  interfacePair,
  isPrivateIp,
  isRandomSymmetric,
  type LocalSide,
  offerFamily,
  opensFilterFor,
  punchCost,
  punchMode,
  punchVerdict,
  type SideInfo,
  samePairs,
  sprayRole,
} from './plan.js'
export { isSequentialSymmetric, predictCandidates } from './predict.js'
export {
  type Acceptor as AcceptorRole,
  LIMITS,
  type Mapping,
  MessageType,
  type NatRecord,
  PROTOCOL_VERSION,
  type PunchAbort,
  type PunchAck,
  type PunchAnswer,
  type PunchMode,
  type PunchOffer,
  type PunchPlan,
  type PunchReady,
  type PunchReadyMessage,
  parseAnswer,
  parseOffer,
  parseReady,
} from './protocol/messages.js'
export {
  type FastRetry,
  fastRetryDefaults,
  type RetryState,
  retryDelay,
} from './retry.js'
export {
  answerLead,
  defaults as scheduleDefaults,
  firstSynAt,
  jitter,
  type MeetingInput,
  measuredOneWay,
  meetingLead,
  meetingTime,
  oneWayDelay,
  punchWindow,
  relativeUncertainty,
  retryInterval,
  signalingRtt,
  staggerOffsets,
  TripEstimate,
} from './schedule.js'
export { type ConnectLoop, type ConnectLoopOptions, connectLoop } from './sockets/connect-loop.js'
export { KEEP } from './sockets/nomination.js'
export { openFilter } from './sockets/opener.js'
export {
  DEFAULT_RANDOM_RANGE,
  evenOffsets,
  probeDelay,
  randomPorts,
  SPRAY_LIMITS,
  type SprayBudget,
  type SprayChoice,
  sprayChoice,
  sprayDefaults,
} from './spray.js'
export { type PunchEvent, type PunchInit, punch } from './strategy.js'
