import type { Identity } from '@p2pd/identity'
import type { Clock, NatInfo, Pipe, Signaling, Strategy } from '@p2pd/interface'
import type { InboundLimits } from './inbound-limits.js'
import type { PortMappingInit } from './port-mapping.js'
import type { Reconnected, ReconnectFailed, RelayLost } from './relay-recovery.js'
import type { ConnectionReport } from './report.js'

// The node's public shapes: what createNode takes, what connect takes and gives, what it emits.

/** One interface the node announces in its address. */
export interface InterfaceInit {
  /** External IP as peers see it (IPv4 dotted quad or IPv6). */
  readonly ext: string
  /** LAN-side IP (defaults to `ext`). */
  readonly nic?: string
  /** NAT in front of this interface (e.g. from `@p2pd/nat`). */
  readonly nat: NatInfo
  /** OS interface index (P2PD's netiface index); defaults to the position in the list. */
  readonly netifaceIndex?: number
}

export interface NodeInit {
  /** Node keys (default: a fresh in-memory identity). Load one with `@p2pd/identity`. */
  identity?: Identity
  /** Signaling backend, or a factory given the identity (e.g. `mqttSignaling`). */
  signaling: Signaling | ((identity: Identity) => Signaling)
  /** Connect strategies in preference order (default `[direct(), reverse()]`). */
  strategies?: Strategy[]
  /**
   * Listener bind address and port (default 0 = any). The default address follows what the
   * node announces: `127.0.0.1` for a loopback-only node (the default); for fixed interfaces,
   * every interface (`0.0.0.0`, or `::` when an IPv6 address is announced); for discovered
   * interfaces or port mapping, `::` when the machine has any IPv6 address (IPv4 then arrives
   * as `::ffff:a.b.c.d`), else `0.0.0.0`.
   */
  listen?: { host?: string; port?: number }
  /**
   * Interfaces to announce, or a function that discovers them (e.g. with `@p2pd/nat`).
   * Default: the loopback interface as an open NAT — a local-only node.
   */
  interfaces?:
    | readonly InterfaceInit[]
    | ((signal: AbortSignal) => Promise<readonly InterfaceInit[]>)
  /** Skew-corrected clock (default: the system clock). */
  clock?: Clock
  /** Machine ID override (default: derived from the OS machine id, as P2PD does). */
  machineId?: string
  /** Refuse peers: return false to drop an inbound connection or request from `nodeId`. */
  allow?: (nodeId: string) => boolean | Promise<boolean>
  /** Deadline of a whole `connect()` (default 30 s). */
  connectTimeoutMs?: number
  /** Deadline of `start()` (default 10 s). */
  startTimeoutMs?: number
  /** Reject `start()` with `NODE_DEGRADED` instead of running degraded (default false). */
  strict?: boolean
  /** Secure-channel handshake deadline, both directions (default 5 s). */
  handshakeTimeoutMs?: number
  /**
   * Deadlines and caps for connections strangers open to the listener: preamble 5 s,
   * nomination 10 s, the whole inbound path 15 s; at most 8 pending per source address and
   * 256 in total, and never more than the open-file limit minus a reserve for the node's own
   * dials. See {@link InboundLimits}; what happened is in `node.stats.inbound`.
   */
  inbound?: InboundLimits
  /** Per-strategy stage deadlines and head starts, overriding the defaults. */
  stageTimeoutMs?: Record<string, number>
  headStartMs?: Record<string, number>
  /**
   * How often to look for network changes (ms, default 10 s; 0 = never). On a change the
   * interfaces are discovered again and, if the address changed, `'address'` is emitted.
   */
  networkCheckMs?: number
  /**
   * Ask the gateway (PCP, NAT-PMP, UPnP IGD) to forward the listener's port, renew it, and
   * release it on `stop()`. Off by default: it talks to the LAN's router. `true` uses the
   * routing table's default gateway; see {@link PortMappingInit} for the rest.
   */
  portMapping?: boolean | PortMappingInit
  /**
   * Resolves names (`alice.<fingerprint>`) for `connect()`, e.g. `nameResolver({ brokers })`
   * from `@p2pd/names`. Without it, connecting to a name fails with `NODE_NO_NAME_RESOLVER`.
   */
  names?: NameLookup
  /** Debug log sink (default: silent). */
  log?: (message: string) => void
}

/**
 * Turns a name into the peer address it points at now. It must verify what it returns (the
 * node trusts the address it gives, and then authenticates the peer by the address's node ID).
 */
export interface NameLookup {
  /** The peer address text `name` points at; rejects with a typed error, by `signal`. */
  resolve(name: string, signal: AbortSignal): Promise<string>
}

/**
 * True when a `connect()` target has the shape of a name, `<label>.<suffix>` (one dot, no
 * brackets or commas), rather than of a peer address. The resolver checks the rest.
 */
export function looksLikeName(target: string): boolean {
  return /^[a-z0-9-]{1,63}\.[a-z0-9]{1,63}$/.test(target)
}

export interface ConnectOptions {
  /** Use these strategies (in this order) instead of the node's list. */
  strategies?: Strategy[]
  /**
   * After a relayed (TURN) pipe wins, keep trying the other strategies in the background and
   * emit `'upgraded'` when a direct pipe is ready (default true).
   */
  upgrade?: boolean
  /**
   * When this relayed pipe later fails because its relay went away (`'relay-lost'`), connect
   * to the peer again with the same options and emit `'reconnected'` with the new pipe, or
   * `'reconnect-failed'` after 3 failed attempts 2 s apart (default false). `signal` bounds
   * this first connect only; each reconnect has `timeoutMs` and ends when the node stops.
   */
  reconnect?: boolean
  signal?: AbortSignal
  timeoutMs?: number
}

/** A pipe returned by `connect()`, with the story of how it was made. */
export type ConnectedPipe = Pipe & { readonly report: ConnectionReport }

/**
 * A relayed pipe has a direct successor: move traffic to `pipe`, then close `previous`.
 * Both ends get it: the side that connected (`role: 'initiator'`, its pipes carry a
 * `report`) and the side that accepted (`role: 'responder'`). On the responder the new pipe
 * is delivered only here, never by `accept()` or `incoming`.
 */
export interface Upgrade {
  readonly previous: Pipe & { readonly report?: ConnectionReport }
  readonly pipe: Pipe & { readonly report?: ConnectionReport }
  readonly role: 'initiator' | 'responder'
}

export interface NodeEvents {
  pipe: [Pipe]
  report: [ConnectionReport]
  /** The node's peer address changed (network change, broker set change): re-share it. */
  address: [string]
  upgraded: [Upgrade]
  /** A relayed pipe (made or accepted) failed because its relay went away. */
  'relay-lost': [RelayLost]
  /** After a relay loss with `reconnect: true`: the new pipe to the same peer. */
  reconnected: [Reconnected]
  /** After a relay loss with `reconnect: true`: every attempt failed. */
  'reconnect-failed': [ReconnectFailed]
  /** Start or an address refresh found the node unreachable as announced (see `health`). */
  degraded: [NodeHealth]
  error: [Error]
}

/** What `node.health` reports. */
export interface NodeHealth {
  /** `degraded`: the node runs, but peers may not reach it (see `problems`). */
  readonly status: 'ok' | 'degraded'
  /** What is wrong, one sentence each (empty when `ok`). */
  readonly problems: readonly string[]
}
