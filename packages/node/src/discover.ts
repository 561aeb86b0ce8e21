import type { Endpoint } from '@p2pd/interface'
import { listInterfaces, natInfoForInterface } from '@p2pd/nat'
import { candidateAddresses } from './ipv6.js'
import type { InterfaceInit } from './node.js'

export interface StunInterfacesInit {
  /** STUN servers with RFC 5780 support (host:port or endpoints); two or more is best. */
  stunServers: readonly (string | Endpoint)[]
  /** Families to announce (default both). */
  families?: readonly (4 | 6)[]
  /** CIDRs to treat as public besides the global ranges (a lab's 198.18.0.0/15, say). */
  publicRanges?: readonly string[]
  /** At most this many interfaces per family (default 3, the address format's limit). */
  maxPerFamily?: number
  /**
   * Probe exactly these local addresses instead of the routed ones (a multi-homed host that
   * pins its addresses, or a test on `::1`). Each is probed in its own family.
   */
  addresses?: readonly string[]
  /** Progress/debug sink. */
  log?: (message: string) => void
}

/**
 * Interface discovery for `createNode({ interfaces: stunInterfaces(…) })`: lists the machine's
 * routed addresses, classifies the NAT in front of each (UDP and TCP, concurrently, under the
 * node's start deadline) and announces its external address. An address no server answers
 * for is left out, so the node never advertises a path it could not observe. IPv6 needs STUN
 * servers with IPv6 addresses in `stunServers`; without NAT the observed address is the
 * interface's own, announced with the firewall's filtering as its NAT type (open, or
 * "firewall, no NAT" when unsolicited inbound is filtered).
 */
export function stunInterfaces(
  init: StunInterfacesInit,
): (signal: AbortSignal) => Promise<readonly InterfaceInit[]> {
  return async (signal) => {
    const log = init.log ?? (() => {})
    const ifaces = await listInterfaces({ publicRanges: init.publicRanges })
    const jobs = (init.families ?? [4, 6]).flatMap((family) =>
      candidateAddresses(ifaces, family, init.addresses)
        .slice(0, init.maxPerFamily ?? 3)
        .map(async (local): Promise<InterfaceInit | undefined> => {
          try {
            const nat = await natInfoForInterface({
              servers: init.stunServers,
              localAddress: local.address,
              family,
              signal,
            })
            const ext = nat.tcp.behaviour.mapped?.host ?? nat.udp.behaviour.mapped?.host
            if (!ext) {
              log(`${local.address}: no STUN answer, not announced`)
              return undefined
            }
            log(
              `${local.address}: external ${ext}, NAT type ${nat.natInfo.type} (${nat.totalMs.toFixed(0)} ms)`,
            )
            const owner = ifaces.find((i) => i.addresses.some((a) => a.address === local.address))
            return { ext, nic: local.address, nat: nat.natInfo, netifaceIndex: owner?.index }
          } catch (err) {
            log(`${local.address}: NAT discovery failed: ${(err as Error).message}`)
            return undefined
          }
        }),
    )
    return (await Promise.all(jobs)).filter((i): i is InterfaceInit => i !== undefined)
  }
}
