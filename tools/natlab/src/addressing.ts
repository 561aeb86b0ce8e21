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

/**
 * The IPv6 plan (dual-stack labs only). Public side: 2001:db8::/32 (RFC 3849 documentation
 * range, never routed on the Internet). The internet bridge is 2001:db8::/64, where the servers
 * and observers keep the IPv4 plan's last octet (2001:db8::10 is STUN, …) and each peer's router
 * has its WAN; each peer's LAN is its own delegated 2001:db8:N::/64 behind that router, with no
 * translation (the router is a stateful firewall). Nothing here is routed to a real interface.
 */
export const PUBLIC6_CIDR = '2001:db8::/32'
export const BRIDGE6_PREFIX_LEN = 64
/** The internet namespace's own address on the bridge (the routers' next hop). */
export const BRIDGE6_IP = '2001:db8::1'

/** The IPv6 twin of an address on the internet bridge: 198.18.0.X → 2001:db8::X. */
export function bridge6Of(ipv4: string): string {
  const m = /^198\.18\.0\.(\d+)$/.exec(ipv4)
  if (!m) throw new RangeError(`${ipv4} is not a lab bridge address`)
  return `2001:db8::${m[1]}`
}

/** Observer IPv6 addresses (twins of {@link OBSERVER_IPS}). */
export const OBSERVER6_IPS = OBSERVER_IPS.map(bridge6Of) as readonly string[]

export interface PeerAddresses6 {
  /** The router's WAN on the internet bridge (the host itself for `open`). */
  readonly routerWanIp: string
  /** The peer's delegated LAN prefix. */
  readonly lanPrefix: string
  readonly routerLanIp: string
  /** The host's global address: what it is seen as outside (no translation). */
  readonly hostIp: string
  readonly host2Ip: string
}

/** IPv6 addresses of the peer with index `i` (0-based, as {@link peerAddresses}). */
export function peerAddresses6(i: number): PeerAddresses6 {
  if (!Number.isInteger(i) || i < 0 || i > 250) throw new RangeError(`peer index ${i} out of range`)
  const n = (i + 1).toString(16)
  return {
    routerWanIp: `2001:db8::${n}:1`,
    lanPrefix: `2001:db8:${n}::/64`,
    routerLanIp: `2001:db8:${n}::1`,
    hostIp: `2001:db8:${n}::2`,
    host2Ip: `2001:db8:${n}::3`,
  }
}

/** `host:port`, with brackets around an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
