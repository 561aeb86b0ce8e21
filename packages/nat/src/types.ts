import type { Endpoint, NatType } from '@p2pd/interface'
import type { StunAddress } from '@p2pd/stun'

/** The transport a behaviour was measured over. NAT behaviour differs between them. */
export type Transport = 'udp' | 'tcp'

/**
 * RFC 4787 mapping behaviour. `none`: no NAT (mapped == local). `EDM`: endpoint-dependent, but
 * the server had no alternate address, so ADM and APDM could not be told apart (two different
 * servers disagreed). `unknown`: not enough replies to decide.
 */
export type MappingBehaviour = 'none' | 'EIM' | 'ADM' | 'APDM' | 'EDM' | 'unknown'

/**
 * RFC 4787 filtering behaviour; `unknown` when it could not be measured (TCP: the server does
 * not dial back).
 */
export type FilteringBehaviour = 'EIF' | 'ADF' | 'APDF' | 'unknown'

/**
 * What a NAT or firewall does with a TCP SYN its filter refuses: `drop` it silently or answer
 * `rst` (Linux's default for a closed port). It decides how a hole punch must pace its retries:
 * an RST kills the attempt at once, so the next SYN has to follow quickly. `unknown`: nothing
 * was filtered (or not measured).
 */
export type SynPolicy = 'drop' | 'rst' | 'unknown'

/** Where the alternate server address came from. */
export type AlternateSource = 'rfc5780' | 'rfc3489' | 'second-server' | 'none'

/** What the mapping tests saw from one local socket (one local port, TCP: one local port). */
export interface MappingObservations {
  /** The local endpoint the probes left from. */
  readonly local: Endpoint
  /** Test I: mapping towards the primary address. */
  readonly primary?: StunAddress
  /** Test II: mapping towards the alternate IP, primary port (or a second server). */
  readonly altIp?: StunAddress
  /** Test III: mapping towards the alternate IP and alternate port. */
  readonly altIpPort?: StunAddress
}

/** What the filtering tests saw (UDP, from a socket that only ever talked to the primary). */
export interface FilteringObservations {
  /** A reply asked from the other IP and port arrived (undefined: not tested). */
  readonly changeIpPort?: boolean
  /** A reply asked from the other port (same IP) arrived (undefined: not tested). */
  readonly changePort?: boolean
}

/** Wall-clock timings of one behaviour discovery, ms. */
export interface BehaviourTimings {
  readonly totalMs: number
  /** Until the mapping verdict (tests I–III). */
  readonly mappingMs: number
  /** Until the filtering verdict (negative answers wait for the adaptive window). */
  readonly filteringMs?: number
  readonly hairpinMs?: number
  /** RTT of test I: it scales the negative-answer window and retransmissions. */
  readonly rttMs: number
}

/** The behaviour of the NAT (or firewall) on one interface address, for one transport. */
export interface BehaviourResult {
  readonly transport: Transport
  readonly family: 4 | 6
  /** The server whose primary address answered test I (the first one tried when blocked). */
  readonly server: Endpoint
  /** The alternate address used for tests II/III and the filtering replies. */
  readonly alternate?: Endpoint
  readonly alternateSource: AlternateSource
  readonly local: Endpoint
  /** Test I's mapped address: the public address of this interface (absent when blocked). */
  readonly mapped?: StunAddress
  /** False when mapped == local (no NAT); null when no server answered. */
  readonly natted: boolean | null
  readonly mapping: MappingBehaviour
  readonly filtering: FilteringBehaviour
  /**
   * `measured` (UDP: CHANGE-REQUEST; TCP: the server dialled back); `inferred` (TCP, from the
   * UDP result, when the server does not dial back); `none`: unknown.
   */
  readonly filteringSource: 'measured' | 'inferred' | 'none'
  /** TCP only: what the filter does with a SYN it refuses (absent over UDP). */
  readonly synPolicy?: SynPolicy
  /** Mapped port == local port (null when there is no NAT). */
  readonly preserving: boolean | null
  /** A second local socket reached the first through its public mapping (null: not tested). */
  readonly hairpin: boolean | null
  /** P2PD's code for this address (1–7), from mapping first, then filtering. */
  readonly natType: NatType
  readonly observations: {
    readonly mapping: MappingObservations
    readonly filtering: FilteringObservations
  }
  readonly timings: BehaviourTimings
  /** Human-readable caveats (fallbacks taken, tests that got no answer). */
  readonly notes: readonly string[]
}
