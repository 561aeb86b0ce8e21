import { ipFamily, ipToBytes } from '@p2pd/stun'

/** Which peers a TURN server relays to. */
export interface PeerPolicy {
  /** Relay to 127.0.0.0/8 and ::1 (default false: only tests and the demo need it). */
  readonly allowLoopbackPeers?: boolean
  /**
   * Relay to private, link-local and shared ranges (RFC 1918, 169.254/16, 100.64/10,
   * fc00::/7, fe80::/10). Default false: a public relay must not reach into its own LAN.
   */
  readonly allowPrivatePeers?: boolean
}

function v4(bytes: Buffer): number {
  return bytes.readUInt32BE(0)
}

function inV4(ip: number, net: number, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  return (ip & mask) >>> 0 === (net & mask) >>> 0
}

const ipv4 = (a: number, b: number, c: number, d: number) =>
  ((a << 24) | (b << 16) | (c << 8) | d) >>> 0

/** Classifies a peer IP: `'loopback'`, `'private'`, `'never'` (unroutable) or `'public'`. */
export function classifyPeer(host: string): 'loopback' | 'private' | 'never' | 'public' {
  const family = ipFamily(host)
  if (family === 0) return 'never'
  let bytes = ipToBytes(host)
  if (family === 6) {
    // IPv4-mapped addresses are judged as the IPv4 address they carry.
    if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
      bytes = bytes.subarray(12)
    } else {
      if (bytes.subarray(0, 15).every((b) => b === 0)) return bytes[15] === 1 ? 'loopback' : 'never'
      const first = bytes[0] as number
      if (first === 0xff) return 'never' // multicast
      if ((first & 0xfe) === 0xfc) return 'private' // fc00::/7
      if (first === 0xfe && ((bytes[1] as number) & 0xc0) === 0x80) return 'private' // fe80::/10
      return 'public'
    }
  }
  const ip = v4(bytes)
  if (inV4(ip, ipv4(127, 0, 0, 0), 8)) return 'loopback'
  if (inV4(ip, 0, 8) || inV4(ip, ipv4(224, 0, 0, 0), 4) || inV4(ip, ipv4(240, 0, 0, 0), 4)) {
    return 'never'
  }
  if (
    inV4(ip, ipv4(10, 0, 0, 0), 8) ||
    inV4(ip, ipv4(172, 16, 0, 0), 12) ||
    inV4(ip, ipv4(192, 168, 0, 0), 16) ||
    inV4(ip, ipv4(169, 254, 0, 0), 16) ||
    inV4(ip, ipv4(100, 64, 0, 0), 10)
  ) {
    return 'private'
  }
  return 'public'
}

/** True when `policy` lets the server relay to `host`. */
export function peerAllowed(host: string, policy: PeerPolicy): boolean {
  switch (classifyPeer(host)) {
    case 'public':
      return true
    case 'loopback':
      return policy.allowLoopbackPeers === true
    case 'private':
      return policy.allowPrivatePeers === true
    default:
      return false
  }
}
