import type { PeerPolicy } from './peer-policy.js'
import type { TurnLimits } from './stranger-guard.js'
import type { TcpRelayStats, TurnTcpOptions } from './tcp-relay.js'

/** Options of {@link TurnServer}. Defaults: loopback only, nothing relayed to loopback peers. */
export interface TurnServerOptions extends PeerPolicy {
  /** Listen IP, IPv4 or IPv6 (default `127.0.0.1`). */
  readonly host?: string
  /** Listen port (default 0: any free port). */
  readonly port?: number
  /** IP of the relayed addresses (default `host`); ignored when `relayHosts` is given. */
  readonly relayHost?: string
  /**
   * Relay IPs, at most one IPv4 and one IPv6 (default `[relayHost ?? host]`). A client picks
   * the family with REQUESTED-ADDRESS-FAMILY; without it the relay is IPv4. A family with no
   * relay IP here is refused with 440 (Address Family not Supported), and a relay only reaches
   * peers of its own family (others: 443, Peer Address Family Mismatch).
   */
  readonly relayHosts?: readonly string[]
  /** Relay ports are taken from this range (default: any free port). */
  readonly relayPortRange?: readonly [number, number]
  readonly realm?: string
  /** Long-term credentials: user → password, or a lookup function. */
  readonly users: Readonly<Record<string, string>> | ((username: string) => string | undefined)
  /** Nonce validity (default 10 min); an expired nonce is answered with 438. */
  readonly nonceTtlMs?: number
  /** Lifetime granted when the client asks for none (default 600 s). */
  readonly defaultLifetimeSec?: number
  /** Largest lifetime granted (default 3,600 s). */
  readonly maxLifetimeSec?: number
  /** Permission lifetime (default 300 s, RFC 8656). */
  readonly permissionLifetimeMs?: number
  /** Channel binding lifetime (default 600 s, RFC 8656). */
  readonly channelLifetimeMs?: number
  /** Allocations in total (default 1,000); beyond: 508 Insufficient Capacity. */
  readonly maxAllocations?: number
  /** Allocations per user (default 10); beyond: 486 Allocation Quota Reached. */
  readonly maxAllocationsPerUser?: number
  /** Offer SHA-256 long-term keys and MESSAGE-INTEGRITY-SHA256 (PASSWORD-ALGORITHMS). */
  readonly offerSha256?: boolean
  /** SOFTWARE attribute in authenticated responses (default none; never sent to strangers). */
  readonly software?: string
  /** Budgets for unauthenticated and failing senders; see {@link TurnLimits} for defaults. */
  readonly limits?: TurnLimits
  /**
   * TCP on the same port: TCP allocations (RFC 6062) over TCP control connections, with
   * their own bounds; see {@link TurnTcpOptions} for defaults. `{ listen: false }`: UDP only.
   */
  readonly tcp?: TurnTcpOptions
}

/** Counters of a {@link TurnServer} (the `tcp…` ones count the TCP side). */
export interface TurnServerStats extends TcpRelayStats {
  allocations: number
  requests: number
  relayedToPeers: number
  relayedToClients: number
  refusedPeers: number
  /** Undecodable datagrams, and relay traffic without an allocation or permission. */
  dropped: number
  /** Unauthenticated requests over their source's budget: dropped, no reply. */
  droppedUnauthenticated: number
  /** Requests with wrong credentials (username, realm or integrity). */
  authFailures: number
  /** Signed requests dropped unchecked: source over its failed-auth budget, or in back-off. */
  throttledFailedAuth: number
  /** Replies to strangers not sent: they would have exceeded the bytes the source sent. */
  amplificationLimited: number
}
