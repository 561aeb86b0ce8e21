import type { DecodedStunMessage } from '@p2pd/stun'
import type { RelayHosts } from './address-family.js'
import type { CredentialChecker } from './credentials.js'
import type { StrangerGuard } from './stranger-guard.js'

/** TCP side of a {@link TurnServer}: control/data connections and TCP allocations (RFC 6062). */
export interface TurnTcpOptions {
  /** Listen for TCP on the server's port (default true). */
  readonly listen?: boolean
  /** Grant TCP allocations (default true); false answers 442 Unsupported Transport Protocol. */
  readonly allocations?: boolean
  /** TCP connections to the server at once, per source IP (default 32). */
  readonly maxConnectionsPerSource?: number
  /** TCP connections to the server at once in total (default 2,000). */
  readonly maxConnections?: number
  /** A connection that neither allocated nor bound a peer connection within this is closed (default 10 s). */
  readonly idleTimeoutMs?: number
  /** A peer connection without its ConnectionBind is closed after this (default 30 s, RFC 6062). */
  readonly connectionBindTimeoutMs?: number
  /** Peer connections waiting for a ConnectionBind, per allocation (default 8). */
  readonly maxPendingPerAllocation?: number
  /** Peer connections (pending and spliced) per allocation (default 64). */
  readonly maxConnectionsPerAllocation?: number
  /** Deadline of the server's own dial to a peer on Connect; then 447 (default 10 s). */
  readonly connectTimeoutMs?: number
}

/** Allocation slots shared with the UDP side: per-user quota and the total. */
export interface AllocationQuota {
  /** 0 when a slot was taken for `username`; else the STUN error to answer (486, 508). */
  take(username: string): 0 | 486 | 508
  release(username: string): void
}

/** What the TCP side shares with the UDP server. */
export interface TcpRelayContext {
  readonly host: string
  /** The relay IP of each family the server allocates in. */
  readonly relayHosts: RelayHosts
  readonly relayPortRange: readonly [number, number] | undefined
  readonly credentials: CredentialChecker
  readonly guard: StrangerGuard
  readonly peerAllowed: (host: string) => boolean
  readonly quota: AllocationQuota
  readonly lifetime: (req: DecodedStunMessage) => number
  readonly defaultLifetimeSec: number
  readonly permissionLifetimeMs: number
  readonly software: string | undefined
  readonly stats: TcpRelayStats
}

/** TCP counters of the server. */
export interface TcpRelayStats {
  /** TCP connections accepted (control and data). */
  tcpConnections: number
  /** TCP connections refused at accept (per-source or total limit). */
  tcpRefusedConnections: number
  /** TCP connections closed for idling before allocating or binding. */
  tcpIdleClosed: number
  tcpAllocations: number
  /** Peer connections refused: no permission, or the allocation's bounds. */
  tcpRefusedPeers: number
  /** Peer connections closed without a ConnectionBind within the bind timeout. */
  tcpUnboundTimeouts: number
  /** Peer connections spliced to a data connection. */
  tcpSpliced: number
  /**
   * Spliced pairs fused with the pair at the other end of their peer connection (a relayed
   * address of this server connected to another one here): bytes go data connection to data
   * connection, no longer through the server's connection to itself.
   */
  tcpFused: number
}
