import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os'
import { type IpScope, type IpScopeOptions, ipScope } from './ip-scope.js'
import { type DefaultRoute, defaultRoutes } from './routes.js'

/** One address of a local interface. */
export interface LocalAddress {
  readonly address: string
  readonly family: 4 | 6
  readonly cidr: string | null
  readonly scope: IpScope
  /** IPv6 scope id (link-local addresses need it). */
  readonly scopeId?: number
}

/** A local interface with its addresses and whether a default route leaves through it. */
export interface LocalInterface {
  readonly name: string
  /** Position in the OS interface list (P2PD's `netiface_index`). */
  readonly index: number
  readonly internal: boolean
  readonly addresses: readonly LocalAddress[]
  /** Default routes through this interface (best metric first). */
  readonly defaultRoutes: readonly DefaultRoute[]
}

/**
 * The machine's interfaces (os.networkInterfaces) with each address's scope and the default
 * routes (from /proc, with a fallback). Interfaces with a default route come first; loopback
 * last. `publicRanges` lets a lab declare its own public range (198.18.0.0/15).
 */
export async function listInterfaces(
  opts: IpScopeOptions & {
    interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>
    routes?: readonly DefaultRoute[]
  } = {},
): Promise<LocalInterface[]> {
  const raw = opts.interfaces ?? networkInterfaces()
  const routes = opts.routes ?? (await defaultRoutes())
  const list = Object.entries(raw).map(([name, addrs], index): LocalInterface => {
    const list = addrs ?? []
    return {
      name,
      index,
      internal: list.length > 0 && list.every((a) => a.internal),
      addresses: list.map((a) => {
        const family = a.family === 'IPv6' || (a.family as unknown) === 6 ? 6 : 4
        return {
          address: a.address,
          family,
          cidr: a.cidr,
          scope: ipScope(a.address, opts),
          ...(family === 6 && a.scopeid ? { scopeId: a.scopeid } : {}),
        }
      }),
      defaultRoutes: routes.filter((r) => r.iface === name),
    }
  })
  const rank = (i: LocalInterface) => (i.defaultRoutes.length > 0 ? 0 : i.internal ? 2 : 1)
  return list.sort((a, b) => rank(a) - rank(b) || a.index - b.index)
}

/**
 * The addresses worth probing with STUN, per family: the non-internal, non-link-local
 * addresses of interfaces with a default route of that family (else of any interface).
 */
export function probeAddresses(ifaces: readonly LocalInterface[], family: 4 | 6): LocalAddress[] {
  const usable = (i: LocalInterface) =>
    i.addresses.filter(
      (a) =>
        a.family === family &&
        !['loopback', 'link-local', 'multicast', 'unspecified'].includes(a.scope),
    )
  const routed = ifaces.filter((i) => i.defaultRoutes.some((r) => r.family === family))
  const pick = (routed.length > 0 ? routed : ifaces).flatMap(usable)
  return pick
}
