import { AttrType, type DecodedStunMessage, findAttribute, ipFamily, ipToBytes } from '@p2pd/stun'
import { TurnError } from '../errors.js'

/** The relay IP of each address family a server allocates in. */
export type RelayHosts = Readonly<Partial<Record<4 | 6, string>>>

/**
 * The relay IPs from the options: `relayHosts` when given (at most one per family), else
 * `relayHost`, else the listen `host`. Throws `TURN_BAD_INPUT` for a non-IP or a family twice.
 */
export function relayHostsOf(opts: {
  readonly host?: string
  readonly relayHost?: string
  readonly relayHosts?: readonly string[]
}): RelayHosts {
  const list = opts.relayHosts ?? [opts.relayHost ?? opts.host ?? '127.0.0.1']
  const out: Partial<Record<4 | 6, string>> = {}
  for (const ip of list) {
    const family = ipFamily(ip)
    if (family === 0) throw new TurnError('TURN_BAD_INPUT', `relay host is not an IP: ${ip}`)
    if (out[family] !== undefined) {
      throw new TurnError('TURN_BAD_INPUT', `two relay hosts of IPv${family}: one per family`)
    }
    out[family] = ip
  }
  if (out[4] === undefined && out[6] === undefined) {
    throw new TurnError('TURN_BAD_INPUT', 'relayHosts is empty')
  }
  return out
}

/** Wire values of REQUESTED-ADDRESS-FAMILY. */
const WIRE_FAMILY: Readonly<Record<number, 4 | 6>> = { 1: 4, 2: 6 }

/**
 * The relayed family an Allocate asks for, or the error to answer: without
 * REQUESTED-ADDRESS-FAMILY the family is IPv4; a malformed attribute is 400; a family we do not
 * know, or one without a relay IP here, is 440.
 */
export function allocationFamily(
  req: DecodedStunMessage,
  relays: RelayHosts,
): { readonly family: 4 | 6; readonly host: string } | { readonly error: 400 | 440 } {
  const a = findAttribute(req, AttrType.RequestedAddressFamily)
  if (a && a.value.length !== 4) return { error: 400 }
  // Both a family and a reservation token: the token already fixes the family.
  if (a && findAttribute(req, AttrType.ReservationToken)) return { error: 400 }
  const family = a ? WIRE_FAMILY[a.value[0] as number] : 4
  if (family === undefined) return { error: 440 }
  const host = relays[family]
  return host === undefined ? { error: 440 } : { family, host }
}

/** True when every peer is of `family` (a relay only reaches peers of its own family). */
export function sameFamily(peers: readonly { host: string }[], family: 4 | 6): boolean {
  return peers.every((p) => ipFamily(p.host) === family)
}

/**
 * The key a source's stranger budgets are kept under: the IP for IPv4, the /64 for IPv6. One
 * IPv6 host usually holds a whole /64, so per-address budgets would be no bound at all.
 */
export function sourceKey(ip: string): string {
  if (ipFamily(ip) !== 6) return ip
  const b = ipToBytes(ip)
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  return `${b.subarray(0, 8).toString('hex')}::/64`
}
