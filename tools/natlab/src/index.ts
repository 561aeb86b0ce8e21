/**
 * @packageDocumentation
 * The p2pd NAT lab (private): network namespaces, nftables NAT profiles, a userspace delay
 * line, a self-check of every router, physics probes and the connectivity matrix.
 * Linux and root only. See the README for the topology, profiles and result schema.
 *
 * @example
 * ```ts
 * import { Lab, selfCheck, assertSelfCheck } from '@p2pd/natlab'
 *
 * const lab = await Lab.up({ peers: ['port-restricted-drop', 'sym-seq1-rst'] })
 * try {
 *   assertSelfCheck(await selfCheck(lab.info))
 * } finally {
 *   await lab.down()
 * }
 * ```
 */
export * from './addressing.js'
export {
  CLI_BIN,
  CliProcess,
  INFRA_CONFIG,
  nodeScriptIn,
  type P2pdInfraOptions,
  p2pdInfraServer,
  type StartCliOptions,
  startCli,
} from './cli-in-ns.js'
export { type DelayLine, disableOffloads, type LinkShape, startDelayLine } from './delayline.js'
export { NatlabError, type NatlabErrorCode } from './errors.js'
export { isRoot, requireLabTools, requireRoot } from './exec.js'
export { type MatrixOptions, runMatrix, writeResults } from './matrix.js'
export { type MiniupnpdOptions, startMiniupnpd, UPNP_HTTP_PORT } from './miniupnpd.js'
export {
  isRunPrefix,
  NAMESPACE_PATTERN,
  newRunPrefix,
  nsName,
  PREFIX_PATTERN,
  prefixOfNamespace,
} from './naming.js'
export {
  cgnatRuleset,
  firewall6Ruleset,
  host6Ruleset,
  hostRuleset,
  miniupnpdRuleset,
  routerRuleset,
  sequentialPortMap,
  snatRules,
} from './nft.js'
export { Agent, nodeTsArgv, runInNamespace } from './node-in-ns.js'
export * from './probes.js'
export * from './profiles.js'
export { renderHtml, renderMarkdown } from './report.js'
export {
  getRunner,
  type RunnerContext,
  registerRunner,
  runnerNames,
  type StrategyRunner,
  tcpDirect,
  tcpSimopen,
  tsRunner,
} from './runners/index.js'
export {
  P2PD_NODE_RUNNERS,
  type P2pdNodeRunnerName,
  p2pdNodeRunner,
  registerP2pdRunners,
} from './runners/p2pd-runners.js'
export type { RunnerConfig, RunnerResult, StartMessage } from './runners/protocol.js'
export * from './schema.js'
export * from './selfcheck.js'
export { checkIpv6, expectedBehaviour6, type Ipv6Check, parseSeen6 } from './selfcheck6.js'
export * from './servers.js'
export {
  P2PD_STUN_IPS,
  type P2pdStunOptions,
  type P2pdTurnOptions,
  p2pdServers,
  p2pdSntpServer,
  p2pdStunServer,
  p2pdTurnServer,
} from './servers-p2pd.js'
export { judgeSyn, type SeenSyn, type SynProbes, seenSyns, synPolicyOf } from './syn-check.js'
export {
  assertIsolation,
  attachLab,
  downRun,
  downStale,
  Lab,
  type LabInfo,
  type LabOptions,
  type LabPeer,
  listNamespaces,
  type PeerSpec,
  peerNamespaces,
  runningLabs,
} from './topology.js'
export {
  buildPeer6,
  type Flow6,
  firewallFlows6,
  firewallRuleCounters6,
  parseFlows6,
} from './topology6.js'
export {
  conntrackHas,
  firewallPassed6,
  type PathKind,
  runTrial,
  type SideReport,
  type TrialOptions,
  type TrialResult,
} from './trial.js'
