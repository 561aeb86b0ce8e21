import { ipFamily, ipToBytes, normalizeIp } from '@p2pd/stun'
import { NatError } from './errors.js'

/** What kind of address an IP is. Only `public` addresses are worth announcing as external. */
export type IpScope =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'ula'
  | 'multicast'
  | 'documentation'
  | 'benchmark'
  | 'reserved'
  | 'public'

/** Extra ranges to treat as public (or as not public), e.g. the NAT lab's `198.18.0.0/15`. */
export interface IpScopeOptions {
  /** CIDRs that count as public whatever the registry says (checked first). */
  readonly publicRanges?: readonly string[]
  /** CIDRs that count as private whatever the registry says. */
  readonly privateRanges?: readonly string[]
}

/** IANA special-purpose ranges (RFC 6890 and successors), most specific first where it matters. */
const SPECIAL: readonly [string, IpScope][] = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmark'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::ffff:0:0/96', 'reserved'],
  ['64:ff9b:1::/48', 'private'],
  ['100::/64', 'reserved'],
  ['2001:db8::/32', 'documentation'],
  ['2001:2::/48', 'benchmark'],
  ['fc00::/7', 'ula'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
]

/** Parses `ip/len` (a bare IP is a host route). Throws {@link NatError} `NAT_BAD_INPUT` on bad input. */
export function parseCidr(cidr: string): { bytes: Buffer; bits: number; family: 4 | 6 } {
  const [ip = '', len] = cidr.split('/')
  const family = ipFamily(ip)
  if (family === 0) throw new NatError('NAT_BAD_INPUT', `not a CIDR: ${cidr}`)
  const max = family === 4 ? 32 : 128
  const bits = len === undefined ? max : Number(len)
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new NatError('NAT_BAD_INPUT', `bad prefix: ${cidr}`)
  }
  return { bytes: ipToBytes(ip), bits, family }
}

/** True when `ip` lies in `cidr` (both of one family). */
export function inCidr(ip: string, cidr: string): boolean {
  const family = ipFamily(ip)
  if (family === 0) return false
  const c = parseCidr(cidr)
  if (c.family !== family) return false
  const b = ipToBytes(normalizeIp(ip))
  if (b.length !== c.bytes.length) return false
  for (let i = 0; i < c.bits; i += 8) {
    const take = Math.min(8, c.bits - i)
    const mask = (0xff << (8 - take)) & 0xff
    if (((b[i / 8] as number) & mask) !== ((c.bytes[i / 8] as number) & mask)) return false
  }
  return true
}

/** The scope of an IP literal (IPv4-mapped IPv6 is judged as IPv4). */
export function ipScope(ip: string, opts: IpScopeOptions = {}): IpScope {
  const norm = normalizeIp(ip)
  if (opts.publicRanges?.some((c) => inCidr(norm, c))) return 'public'
  if (opts.privateRanges?.some((c) => inCidr(norm, c))) return 'private'
  for (const [cidr, scope] of SPECIAL) if (inCidr(norm, cidr)) return scope
  if (ipFamily(norm) === 6 && !inCidr(norm, '2000::/3')) return 'reserved'
  return 'public'
}

/** True for an address worth announcing as external (see {@link IpScopeOptions}). */
export function isPublicIp(ip: string, opts: IpScopeOptions = {}): boolean {
  return ipScope(ip, opts) === 'public'
}
