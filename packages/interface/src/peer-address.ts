import type { NatInfo } from './nat.js'

/** One interface of a peer, for one address family, as the peer address carries it. */
export interface AddressInterface {
  /** Index of the interface in the OS interface list (P2PD's `netiface_index`). */
  readonly netifaceIndex: number
  /** Index of the interface in the node's own interface list; unique per family. */
  readonly ifIndex: number
  /** External (WAN) IP. IPv6 is written fully exploded, lowercase. */
  readonly ext: string
  /** LAN-side IP used for local paths (IPv6: link-local when there is one). */
  readonly nic: string
  /** The node's TCP listen port, 1–65535. */
  readonly port: number
  readonly nat: NatInfo
}

/** A decoded peer address (the P2PD text format, see `@p2pd/address`). */
export interface PeerAddress {
  /** Indexes into the signaling broker list that this peer is subscribed on. */
  readonly signal: readonly number[]
  readonly ip4: readonly AddressInterface[]
  readonly ip6: readonly AddressInterface[]
  /** Compressed secp256k1 public key (66 hex chars), or a P2PD legacy id. */
  readonly nodeId: string
  /** True when `nodeId` is not a public key (P2PD's 25-hex id): it cannot be authenticated. */
  readonly legacy: boolean
  /** Identifies the machine, to detect "same machine" peers. */
  readonly machineId: string
}

/** Where a signaling message goes: a node, and the brokers it listens on (when known). */
export interface SignalTarget {
  readonly nodeId: string
  readonly signal?: readonly number[]
}
