import { PRIVATE_PREFIXES } from './addressing.js'
import { NatlabError } from './errors.js'
import { ip, nsRun, tool } from './exec.js'
import type { NatProfile } from './profiles.js'
import { peerNamespaces } from './runs.js'
import type { LabInfo } from './topology.js'

/*
 * The lab's wiring: veth pairs made directly between lab namespaces, bridge ports, blackhole
 * routes for private ranges, router sysctls, and the isolation check run on every `up`.
 */

/** A veth pair: `name` in `ns`, its peer `peerName` created directly inside `peerNs`. */
export function veth(ns: string, name: string, peerNs: string, peerName: string) {
  return ip([
    '-n',
    ns,
    'link',
    'add',
    'name',
    name,
    'type',
    'veth',
    'peer',
    'name',
    peerName,
    'netns',
    peerNs,
  ])
}

/** Enslaves `dev` to `bridge` inside `ns` and brings it up. */
export async function bridgePort(ns: string, dev: string, bridge: string): Promise<void> {
  await ip(['-n', ns, 'link', 'set', dev, 'master', bridge])
  await ip(['-n', ns, 'link', 'set', dev, 'up'])
}

/** Blackholes every private prefix except `keep` (more specific connected routes still win). */
export async function blackholes(ns: string, keep: readonly string[] = []): Promise<void> {
  for (const pfx of PRIVATE_PREFIXES)
    if (!keep.includes(pfx)) await ip(['-n', ns, 'route', 'add', 'blackhole', pfx])
}

export async function routerSysctls(ns: string, profile: NatProfile): Promise<void> {
  const t = profile.timeouts
  await nsRun(ns, tool('sysctl'), [
    '-qw',
    'net.ipv4.ip_forward=1',
    `net.netfilter.nf_conntrack_udp_timeout=${t.udp}`,
    `net.netfilter.nf_conntrack_udp_timeout_stream=${t.udpStream}`,
    `net.netfilter.nf_conntrack_tcp_timeout_established=${t.tcpEstablished}`,
    `net.netfilter.nf_conntrack_tcp_timeout_syn_sent=${t.tcpSynSent}`,
  ])
}

/**
 * Asserts the lab is sealed: no namespace has a default route, and neither the internet
 * namespace nor any router can route to another peer's LAN (blackholed).
 */
export async function assertIsolation(info: LabInfo): Promise<void> {
  const all = [info.internetNs, ...info.peers.flatMap(peerNamespaces)]
  for (const ns of all)
    for (const fam of info.ipv6 ? ['-4', '-6'] : ['-4']) {
      const { stdout } = await ip(['-n', ns, fam, 'route', 'show', 'default'])
      if (stdout.trim())
        throw new NatlabError(
          'NATLAB_LAB_FAULT',
          `namespace ${ns} has a default route: ${stdout.trim()}`,
        )
    }
  const publicSide = [
    info.internetNs,
    ...info.peers.flatMap((p) => [p.ns.cgnat ?? p.ns.router ?? []].flat()),
  ]
  for (const ns of publicSide)
    for (const p of info.peers) {
      // An IPv6 LAN is public by design (its router filters, it does not hide).
      if (!p.ns.router || ns === p.ns.router || p.ip === 'v6') continue
      const r = await ip(['-n', ns, 'route', 'get', p.hostIp], { allowFail: true })
      if (r.code === 0 && !/^(blackhole|unreachable|prohibit)/m.test(r.stdout))
        throw new NatlabError(
          'NATLAB_LAB_FAULT',
          `${ns} can route to ${p.label}'s LAN host ${p.hostIp}: ${r.stdout.trim()}`,
        )
    }
}
