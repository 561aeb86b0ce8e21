import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  type DecodedStunMessage,
  decodeXorAddress,
  ipFamily,
  ipToBytes,
} from '@p2pd/stun'
import { TurnError } from '../errors.js'
import { classifyPeer, embeddedIpv4, inRange, parseCidr } from './special-addresses.js'

export { classifyPeer, type PeerClass } from './special-addresses.js'

/**
 * Which peers a TURN server relays to. By default only public addresses: no loopback, no
 * private or link-local networks, nothing reserved (documentation, benchmarking, multicast…),
 * and IPv6 forms that carry an IPv4 address are judged by that address.
 */
export interface PeerPolicy {
  /** Relay to 127.0.0.0/8 and ::1 (default false: only tests and the demo need it). */
  readonly allowLoopbackPeers?: boolean
  /**
   * Relay to private, link-local and shared ranges (10/8, 172.16/12, 192.168/16, 169.254/16,
   * 100.64/10, fc00::/7, fe80::/10, fec0::/10). Default false: a public relay must not reach
   * into its own LAN.
   */
  readonly allowPrivatePeers?: boolean
  /**
   * Ranges relayed to whatever their class (CIDR, e.g. `'198.18.0.0/15'` for a lab whose
   * "internet" is the benchmarking range). Wins over everything else, like coturn's
   * `allowed-peer-ip`. An IPv6 form carrying an IPv4 address matches IPv4 ranges too.
   */
  readonly allowPeerRanges?: readonly string[]
  /** Ranges never relayed to besides the built-in ones (e.g. the relay's own subnet). */
  readonly denyPeerRanges?: readonly string[]
}

interface Cidr {
  readonly net: Buffer
  readonly bits: number
}

function compileRanges(name: string, list: readonly string[] | undefined): Cidr[] {
  return (list ?? []).map((text) => {
    const cidr = parseCidr(text)
    if (!cidr) throw new TurnError('TURN_BAD_INPUT', `${name}: not an address range: ${text}`)
    return cidr
  })
}

function matches(ranges: readonly Cidr[], bytes: Buffer, v4: Buffer | undefined): boolean {
  return ranges.some((r) => inRange(bytes, r.net, r.bits) || (!!v4 && inRange(v4, r.net, r.bits)))
}

/**
 * A policy turned into a check (ranges parsed once). Throws `TURN_BAD_INPUT` for a malformed
 * range.
 */
export function compilePeerPolicy(policy: PeerPolicy): (host: string) => boolean {
  const allow = compileRanges('allowPeerRanges', policy.allowPeerRanges)
  const deny = compileRanges('denyPeerRanges', policy.denyPeerRanges)
  return (host) => {
    if (ipFamily(host) === 0) return false
    const bytes = ipToBytes(host)
    const v4 = embeddedIpv4(bytes)
    if (allow.length > 0 && matches(allow, bytes, v4)) return true
    if (deny.length > 0 && matches(deny, bytes, v4)) return false
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
}

/** True when `policy` lets the server relay to `host`. */
export function peerAllowed(host: string, policy: PeerPolicy): boolean {
  return compilePeerPolicy(policy)(host)
}

/** The peers a request names (its XOR-PEER-ADDRESS attributes, in order). */
export function peersOf(req: DecodedStunMessage): Endpoint[] {
  const out: Endpoint[] = []
  for (const a of req.attributes) {
    if (a.type !== AttrType.XorPeerAddress) continue
    const p = decodeXorAddress(a.value, req.transactionId)
    out.push({ host: p.host, port: p.port })
  }
  return out
}
