import type { NatInfo } from '@p2pd/interface'
import { buildBehaviourResult } from './behaviour-result.js'
import { assemble, type DiscoverNatOptions, discoverNat, type NatDiscovery } from './discover.js'

/** Both transports' results for one interface address, and the record for the peer address. */
export interface InterfaceNat {
  /**
   * For the peer address: TCP mapping and delta (p2pd punches over TCP) with the filtering
   * measured over UDP (TCP filtering cannot be probed with STUN; on the NATs we know both
   * protocols share one filter policy).
   */
  readonly natInfo: NatInfo
  readonly udp: NatDiscovery
  readonly tcp: NatDiscovery
  readonly totalMs: number
}

/**
 * Runs {@link discoverNat} over UDP and TCP at the same time for one local address (one
 * family), then completes the TCP verdict with the UDP filtering. Separate per family: call
 * it once with an IPv4 and once with an IPv6 `localAddress` (P2PD reused IPv4 for IPv6, N7).
 */
export async function natInfoForInterface(
  opts: Omit<DiscoverNatOptions, 'transport'>,
): Promise<InterfaceNat> {
  const started = performance.now()
  const [udp, tcp] = await Promise.all([
    discoverNat({ ...opts, transport: 'udp' }),
    discoverNat({ ...opts, transport: 'tcp' }),
  ])
  const tcpDone = withUdpFiltering(tcp, udp)
  return { natInfo: tcpDone.natInfo, udp, tcp: tcpDone, totalMs: performance.now() - started }
}

/** A TCP discovery whose unknown filtering is replaced by the UDP one ("inferred"). */
export function withUdpFiltering(tcp: NatDiscovery, udp: NatDiscovery): NatDiscovery {
  const b = tcp.behaviour
  if (b.filtering !== 'unknown' || udp.filtering === 'unknown' || b.natted === null) return tcp
  const { natType: _t, preserving: _p, ...rest } = b
  return assemble(
    buildBehaviourResult({ ...rest, filtering: udp.filtering, filteringSource: 'inferred' }),
    tcp.delta,
  )
}
