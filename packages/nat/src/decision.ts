import { NatType } from '@p2pd/interface'
import { normalizeIp, type StunAddress } from '@p2pd/stun'
import type {
  FilteringBehaviour,
  FilteringObservations,
  MappingBehaviour,
  MappingObservations,
} from './types.js'

const same = (a: StunAddress, b: StunAddress) =>
  a.port === b.port && normalizeIp(a.host) === normalizeIp(b.host)

/**
 * True when a mapped address is the local endpoint itself (no NAT). `localIps` lists the
 * addresses that count as ours when the socket was bound to a wildcard address.
 */
export function isUnmapped(
  mapped: StunAddress,
  local: { host: string; port: number },
  localIps: readonly string[] = [],
): boolean {
  if (mapped.port !== local.port) return false
  const ip = normalizeIp(mapped.host)
  if (ip === normalizeIp(local.host)) return true
  return localIps.some((l) => normalizeIp(l) === ip)
}

/**
 * RFC 5780 §4.3 mapping verdict, decided *before* filtering:
 * - test I mapped == local → `none` (no NAT);
 * - test II == test I → `EIM`;
 * - test III == test II → `ADM`, else `APDM`;
 * - with only a second server (no alternate port): equal → `EIM`, different → `EDM`.
 * Missing replies give `unknown` rather than a guess (P2PD's N2).
 */
export function decideMapping(
  obs: MappingObservations,
  opts: { localIps?: readonly string[]; secondServer?: boolean } = {},
): MappingBehaviour {
  const { primary, altIp, altIpPort } = obs
  if (!primary) return 'unknown'
  if (isUnmapped(primary, obs.local, opts.localIps)) return 'none'
  if (!altIp) return 'unknown'
  if (same(altIp, primary)) return 'EIM'
  if (opts.secondServer) return 'EDM'
  if (!altIpPort) return 'unknown'
  return same(altIpPort, altIp) ? 'ADM' : 'APDM'
}

/**
 * RFC 5780 §4.4 filtering verdict from a socket that only talked to the primary address:
 * a reply from the other IP and port → `EIF`; else a reply from the other port → `ADF`;
 * neither → `APDF`. Untested → `unknown`.
 */
export function decideFiltering(obs: FilteringObservations): FilteringBehaviour {
  if (obs.changeIpPort === true) return 'EIF'
  if (obs.changePort === true) return 'ADF'
  if (obs.changeIpPort === false && obs.changePort === false) return 'APDF'
  // Only the IP+port change was tested and it failed: the port test decides, and it is missing.
  return 'unknown'
}

/**
 * P2PD's NAT type code from the verdicts, mapping first (this fixes P2PD's N1, where a
 * symmetric NAT with address-dependent filtering came out as "restricted"):
 *
 * | reachable | mapping | filtering | code |
 * |---|---|---|---|
 * | no reply to test I | – | – | 7 blocked |
 * | yes | none | EIF | 1 open internet |
 * | yes | none | ADF / APDF / unknown | 2 firewall, no NAT (P2PD's N3: open must be proven) |
 * | yes | ADM / APDM / EDM | any | 6 symmetric |
 * | yes | EIM | EIF / ADF / APDF | 3 / 4 / 5 |
 * | yes | EIM | unknown | 5 (the safe assumption: a peer must be contacted first) |
 * | yes | unknown | EIF | 3 (anyone can reach the mapping) |
 * | yes | unknown | otherwise | 6 (cannot promise a reusable mapping) |
 */
export function natTypeFor(
  reachable: boolean,
  mapping: MappingBehaviour,
  filtering: FilteringBehaviour,
): NatType {
  if (!reachable) return NatType.Blocked
  if (mapping === 'none')
    return filtering === 'EIF' ? NatType.OpenInternet : NatType.SymmetricUdpFirewall
  if (mapping === 'ADM' || mapping === 'APDM' || mapping === 'EDM') return NatType.Symmetric
  if (mapping === 'EIM') {
    if (filtering === 'EIF') return NatType.FullCone
    if (filtering === 'ADF') return NatType.RestrictedCone
    return NatType.PortRestrictedCone
  }
  return filtering === 'EIF' ? NatType.FullCone : NatType.Symmetric
}
