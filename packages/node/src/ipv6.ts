import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { type LocalAddress, type LocalInterface, probeAddresses } from '@p2pd/nat'

/**
 * The wildcard address for a listener whose interfaces are discovered at start: `::` (both
 * families: IPv4 arrives as `::ffff:a.b.c.d`) when this machine has any IPv6 address, so a
 * discovered IPv6 interface is reachable for direct and reverse dials; else `0.0.0.0`.
 */
export function wildcardHost(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): '::' | '0.0.0.0' {
  const any6 = Object.values(interfaces).some((list) =>
    (list ?? []).some((a) => a.family === 'IPv6' || (a.family as unknown) === 6),
  )
  return any6 ? '::' : '0.0.0.0'
}

/**
 * The local addresses of one family worth probing, best first: `pinned` ones if given (in that
 * order), else the routed ones with global (public) addresses before the others — an IPv6
 * interface usually carries a ULA beside its global address, and only the global one is
 * reachable from other networks.
 */
export function candidateAddresses(
  ifaces: readonly LocalInterface[],
  family: 4 | 6,
  pinned?: readonly string[],
): { address: string }[] {
  if (pinned) return pinned.filter((a) => isIP(a) === family).map((address) => ({ address }))
  const found = probeAddresses(ifaces, family)
  const rank = (a: LocalAddress) => (a.scope === 'public' ? 0 : 1)
  return found
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i)
    .map((x) => x.a)
}
