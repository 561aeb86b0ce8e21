/**
 * The lab's address plan. Public side: 198.18.0.0/15 (RFC 2544 benchmarking range, never
 * routed on the Internet) on one bridge in the internet namespace. LANs: 10.N.0.0/24 inside a
 * router namespace. CGNAT links: 100.64.N.0/24. Nothing here is ever routed to a real interface.
 */
export const PUBLIC_CIDR = '198.18.0.0/15'
export const PUBLIC_PREFIX_LEN = 15
/** The internet namespace's own address on the bridge. */
export const BRIDGE_IP = '198.18.0.1'

/** Well-known lab server addresses (all on the bridge, in the internet namespace). */
export const SERVER_IPS = {
  stunPrimary: '198.18.0.10',
  stunAlternate: '198.18.0.11',
  mqtt: '198.18.0.12',
  turn: '198.18.0.13',
  sntp: '198.18.0.14',
} as const

/** Observer addresses: O1 and O2 for mapping tests, O3 (never contacted) for filtering tests. */
export const OBSERVER_IPS = ['198.18.0.20', '198.18.0.21', '198.18.0.22'] as const
/** Ports of the lab's always-on "seen" service (TCP and UDP) on O1 and O2. */
export const SEEN_PORTS = [3400, 3401] as const

/** Prefixes that must never be reachable from the public side (blackholed there). */
export const PRIVATE_PREFIXES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']

export interface PeerAddresses {
  /** The peer's public address: the top router's WAN (or the host itself for `open`). */
  readonly publicIp: string
  readonly lanPrefix: string
  readonly routerLanIp: string
  readonly hostIp: string
  readonly host2Ip: string
  /** Home router WAN / CGNAT LAN link (only with CGNAT). */
  readonly cgnatLink: {
    readonly cgnatIp: string
    readonly routerWanIp: string
    readonly prefix: string
  }
}

/** Addresses of the peer with index `i` (0-based; up to 250 peers). */
export function peerAddresses(i: number): PeerAddresses {
  if (!Number.isInteger(i) || i < 0 || i > 250) throw new RangeError(`peer index ${i} out of range`)
  const n = i + 1
  return {
    publicIp: `198.18.${n}.1`,
    lanPrefix: `10.${n}.0.0/24`,
    routerLanIp: `10.${n}.0.1`,
    hostIp: `10.${n}.0.2`,
    host2Ip: `10.${n}.0.3`,
    cgnatLink: {
      cgnatIp: `100.64.${n}.1`,
      routerWanIp: `100.64.${n}.2`,
      prefix: `100.64.${n}.0/24`,
    },
  }
}
