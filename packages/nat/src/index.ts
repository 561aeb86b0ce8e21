/**
 * @packageDocumentation
 * NAT behaviour discovery, port-delta classification and port prediction for p2pd.
 *
 * - {@link discoverNat}: RFC 5780 mapping (EIM / ADM / APDM) decided *first*, then filtering
 *   (EIF / ADF / APDF, UDP), port preservation, hairpinning and the port delta, for one
 *   transport and local address, under one deadline. {@link natInfoForInterface} runs UDP and
 *   TCP together and gives the peer-address record.
 * - {@link classifyDelta} / {@link measureDelta}: equal, preserving, independent (+k, signed),
 *   dependent, random, with a confidence and the allocation range when observable.
 * - {@link predictPorts}: ranked local/public port candidates for a punch, with the
 *   probability model; {@link sprayPlan} for random NATs; {@link reprobe} right before a punch.
 * - {@link discoverExternalAddress}, {@link listInterfaces}, {@link defaultRoutes},
 *   {@link ipScope}: external addresses by majority, interfaces and default routes.
 *
 * @example
 * ```ts
 * import { discoverNat, observeMapping, predictPorts } from '@p2pd/nat'
 *
 * const nat = await discoverNat({ servers: ['198.18.0.10:3478'], transport: 'tcp' })
 * console.log(nat.natInfo, nat.mapping, nat.delta?.model, `${nat.timings.totalMs} ms`)
 *
 * const observed = await observeMapping({ server: nat.behaviour.server, transport: 'tcp' })
 * const plan = predictPorts({ ours: nat.natInfo, theirs: peerNatInfo, observed })
 * console.log(plan.model, plan.candidates) // publish candidates[i].externalPort to the peer
 * await observed.close()
 * ```
 */

export type { BehaviourOptions, FilterWindowContext } from './behaviour-options.js'
export {
  birthdayProbes,
  birthdaySuccess,
  type SprayBudget,
  type SprayPlan,
  sprayPlan,
} from './birthday.js'
export { decideFiltering, decideMapping, isUnmapped, natTypeFor } from './decision.js'
export {
  type ClassifyDeltaOptions,
  classifyDelta,
  type DeltaModel,
  type DeltaSample,
  type DeltaVerdict,
} from './delta-classify.js'
export { deltaPortPlan } from './delta-plan.js'
export { type DeltaOptions, type DeltaResult, measureDelta, sampleDelta } from './delta-sampler.js'
export {
  assemble,
  type DiscoverNatOptions,
  discoverNat,
  type NatDiscovery,
  type NatTimings,
  natInfoOf,
} from './discover.js'
export { NatError, type NatErrorCode } from './errors.js'
export {
  discoverExternalAddress,
  discoverExternalAddresses,
  type ExternalAddress,
  type ExternalAddressOptions,
} from './external.js'
export { formatNatDiscovery } from './format.js'
export { type InterfaceNat, natInfoForInterface, withUdpFiltering } from './interface-nat.js'
export {
  type LocalAddress,
  type LocalInterface,
  listInterfaces,
  probeAddresses,
} from './interfaces.js'
export {
  type IpScope,
  type IpScopeOptions,
  inCidr,
  ipScope,
  isPublicIp,
  parseCidr,
} from './ip-scope.js'
export { ObservedMapping, type ObserveOptions, observeMapping, reprobe } from './observe.js'
export { portDistance, wrapPort } from './port-math.js'
export {
  type ObservedPort,
  type PortCandidate,
  type PortPrediction,
  type PredictionModel,
  type PredictOptions,
  predictPorts,
} from './predict.js'
export {
  type DefaultRoute,
  defaultRoutes,
  interfaceFallback,
  parseProcIpv6Route,
  parseProcNetRoute,
} from './routes.js'
export { alternateOf, resolveServers, type ServerSpec } from './servers.js'
export { discoverTcpBehaviour } from './tcp-behaviour.js'
export {
  probeTcpFiltering,
  type TcpFilteringOptions,
  type TcpFilteringProbe,
} from './tcp-filtering.js'
export { DEFAULT_TIMING, negativeWaitFor, type ProbeTiming, rtoFor } from './timing.js'
export type {
  AlternateSource,
  BehaviourResult,
  BehaviourTimings,
  FilteringBehaviour,
  FilteringObservations,
  MappingBehaviour,
  MappingObservations,
  SynPolicy,
  Transport,
} from './types.js'
export { discoverUdpBehaviour } from './udp-behaviour.js'
