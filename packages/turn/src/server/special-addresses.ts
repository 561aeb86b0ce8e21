import { ipFamily, ipToBytes } from '@p2pd/stun'

/**
 * What a peer address is, for a relay: `loopback`, `private` (this site's networks),
 * `never` (not a destination on the internet: reserved, documentation, benchmarking,
 * multicast…) or `public`.
 */
export type PeerClass = 'loopback' | 'private' | 'never' | 'public'

/** Where an IPv6 form carries an IPv4 address: judged by that address. */
type Embeds = { readonly embedsV4At: number }

interface Range {
  readonly net: Buffer
  readonly bits: number
  readonly is: PeerClass | Embeds
}

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is a single host). Undefined when malformed. */
export function parseCidr(text: string): { net: Buffer; bits: number } | undefined {
  const slash = text.indexOf('/')
  const ip = slash < 0 ? text : text.slice(0, slash)
  const family = ipFamily(ip)
  if (family === 0 || ip.includes('%')) return undefined
  const max = family === 4 ? 32 : 128
  const bitsText = slash < 0 ? String(max) : text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(bitsText)) return undefined
  const bits = Number(bitsText)
  if (bits > max) return undefined
  return { net: ipToBytes(ip), bits }
}

/** True when `bytes` (same family as `net`) lies in `net`/`bits`. */
export function inRange(bytes: Uint8Array, net: Uint8Array, bits: number): boolean {
  if (bytes.length !== net.length) return false
  const whole = bits >> 3
  for (let i = 0; i < whole; i++) if (bytes[i] !== net[i]) return false
  const rest = bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((bytes[whole] as number) & mask) === ((net[whole] as number) & mask)
}

function range(cidr: string, is: PeerClass | Embeds): Range {
  const parsed = parseCidr(cidr)
  if (!parsed) throw new Error(`bad built-in range ${cidr}`)
  return { ...parsed, is }
}

/**
 * The IPv4 special-purpose registry (RFC 6890 and its successors). 192.0.0.0/24 is refused
 * whole, its two anycast hosts included: a relay has no business reaching them.
 */
const V4: readonly Range[] = [
  range('0.0.0.0/8', 'never'), // "this network"
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'private'), // shared address space (carrier-grade NAT)
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'private'), // link-local
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'never'), // IETF protocol assignments
  range('192.0.2.0/24', 'never'), // documentation (TEST-NET-1)
  range('192.88.99.0/24', 'never'), // deprecated 6to4 relay anycast
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'never'), // benchmarking
  range('198.51.100.0/24', 'never'), // documentation (TEST-NET-2)
  range('203.0.113.0/24', 'never'), // documentation (TEST-NET-3)
  range('224.0.0.0/4', 'never'), // multicast
  range('240.0.0.0/4', 'never'), // reserved, and 255.255.255.255 broadcast
]

/**
 * The IPv6 special-purpose registry, most specific first. Forms that carry an IPv4 address
 * are judged by it; the deprecated or local-only ones are refused outright. Outside 2000::/3
 * nothing is global unicast.
 */
const V6: readonly Range[] = [
  range('::1/128', 'loopback'),
  range('::/128', 'never'), // unspecified
  range('::ffff:0:0/96', { embedsV4At: 12 }), // IPv4-mapped
  range('::ffff:0:0:0/96', { embedsV4At: 12 }), // IPv4-translated
  range('::/96', 'never'), // IPv4-compatible, deprecated
  range('64:ff9b::/96', { embedsV4At: 12 }), // NAT64 well-known prefix
  range('64:ff9b:1::/48', 'never'), // local-use IPv4/IPv6 translation
  range('100::/64', 'never'), // discard-only
  range('100:0:0:1::/64', 'never'), // dummy prefix
  // The globally reachable assignments inside 2001::/23.
  range('2001:1::1/128', 'public'), // PCP anycast
  range('2001:1::2/128', 'public'), // TURN anycast
  range('2001:1::3/128', 'public'), // DNS-SD service registration anycast
  range('2001:3::/32', 'public'), // AMT
  range('2001:4:112::/48', 'public'), // AS112-v6
  range('2001:20::/28', 'public'), // ORCHIDv2
  range('2001:30::/28', 'public'), // drone remote ID
  range('2001::/32', 'never'), // Teredo: an obfuscated IPv4 inside; not relayed
  range('2001::/23', 'never'), // IETF protocol assignments
  range('2001:db8::/32', 'never'), // documentation
  range('2002::/16', { embedsV4At: 2 }), // 6to4
  range('3fff::/20', 'never'), // documentation
  range('5f00::/16', 'never'), // SRv6 SIDs
  range('fc00::/7', 'private'), // unique local
  range('fe80::/10', 'private'), // link-local
  range('fec0::/10', 'private'), // site-local, deprecated
  range('ff00::/8', 'never'), // multicast
]

const GLOBAL_UNICAST = range('2000::/3', 'public')

function classifyBytes(bytes: Buffer): PeerClass {
  const table = bytes.length === 4 ? V4 : V6
  for (const r of table) {
    if (!inRange(bytes, r.net, r.bits)) continue
    if (typeof r.is === 'string') return r.is
    return classifyBytes(bytes.subarray(r.is.embedsV4At, r.is.embedsV4At + 4))
  }
  if (bytes.length === 4) return 'public'
  return inRange(bytes, GLOBAL_UNICAST.net, GLOBAL_UNICAST.bits) ? 'public' : 'never'
}

/** Classifies a peer IP (anything but an IP literal is `never`). */
export function classifyPeer(host: string): PeerClass {
  if (ipFamily(host) === 0) return 'never'
  return classifyBytes(ipToBytes(host))
}

/** The IPv4 address an IPv6 form carries (mapped, translated, NAT64, 6to4), if any. */
export function embeddedIpv4(bytes: Buffer): Buffer | undefined {
  if (bytes.length !== 16) return undefined
  for (const r of V6) {
    if (!inRange(bytes, r.net, r.bits)) continue
    return typeof r.is === 'string'
      ? undefined
      : bytes.subarray(r.is.embedsV4At, r.is.embedsV4At + 4)
  }
  return undefined
}
