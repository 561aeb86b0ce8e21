import type { Endpoint } from '@p2pd/interface'
import type { ServerSpec } from './servers.js'
import type { ProbeTiming } from './timing.js'
import type { FilteringBehaviour } from './types.js'

/** What a discovery hook running during the filtering window gets (see `duringFilterWindow`). */
export interface FilterWindowContext {
  /** The server whose primary address answered test I. */
  readonly server: Endpoint
  /** False when there is no NAT (mapped == local). */
  readonly natted: boolean
  readonly rttMs: number
  /** Aborts at the discovery's deadline (or the caller's abort). */
  readonly signal: AbortSignal
}

/** Options of a behaviour discovery (one transport, one local address). */
export interface BehaviourOptions {
  /**
   * STUN servers, preferred first. Test I goes to the first `maxServers` at once; the first
   * that answers with an alternate address (RFC 5780 OTHER-ADDRESS or RFC 3489
   * CHANGED-ADDRESS) is used for every other test. Without one, a second server that answers
   * stands in for the alternate IP (mapping only: EIM or EDM).
   */
  readonly servers: readonly ServerSpec[]
  /** Local address to bind (default: the wildcard of `family`). */
  readonly localAddress?: string
  /** Address family (default: that of `localAddress`, else 4). */
  readonly family?: 4 | 6
  readonly signal?: AbortSignal
  /** Deadline of the whole discovery (default 3,000 ms). */
  readonly timeoutMs?: number
  /** Servers asked at once by test I (default 2). */
  readonly maxServers?: number
  /** UDP: run the hairpinning test (default true). */
  readonly hairpin?: boolean
  /** Addresses that count as ours when the socket is bound to a wildcard (default: all). */
  readonly localIps?: readonly string[]
  readonly timing?: ProbeTiming
  /**
   * Runs once the mapping tests are done, while the filtering window is still open; the
   * discovery waits for it. `discoverNat` runs the delta sampler here so that its serial
   * samples see no other new flows from this discovery.
   */
  readonly duringFilterWindow?: (ctx: FilterWindowContext) => Promise<void>
  /** TCP: filtering to report, inferred from another measurement (the UDP one). */
  readonly inferredFiltering?: FilteringBehaviour
  /** TCP: alternate address to use when the server's TCP answers carry none. */
  readonly alternateHint?: Endpoint
}
