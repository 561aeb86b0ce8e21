/**
 * The IPv6 half of a dual-stack lab (see `addressing.ts` for the plan): the internet
 * namespace routes each peer's delegated /64 to its router; routers forward it untranslated
 * through a stateful firewall (`firewall6Ruleset`), and the firewall's per-flow counters tell a
 * test which IPv6 pairs exchanged packets through it.
 */
import { BRIDGE6_IP, BRIDGE6_PREFIX_LEN, type PeerAddresses6, PUBLIC6_CIDR } from './addressing.js'
import { ip, nftLoad, nsRun, tool } from './exec.js'
import { firewall6Ruleset, host6Ruleset } from './nft.js'
import type { SynPolicy } from './profiles.js'

/** What the IPv6 build needs of one peer. */
export interface Peer6Plan {
  readonly v6: PeerAddresses6
  readonly syn: SynPolicy
  readonly router: string
  /** Host namespaces with their IPv6 addresses and veth names (`eth0` in the host). */
  readonly hosts: readonly (readonly [ns: string, address: string])[]
}

/**
 * Sysctls of a namespace that takes part in IPv6: on, no router advertisements or SLAAC (only
 * the plan's addresses exist), no duplicate address detection (addresses usable at once).
 */
export async function enableIpv6(ns: string, forwarding: boolean): Promise<void> {
  await nsRun(ns, tool('sysctl'), [
    '-qw',
    'net.ipv6.conf.all.disable_ipv6=0',
    'net.ipv6.conf.default.disable_ipv6=0',
    'net.ipv6.conf.all.accept_ra=0',
    'net.ipv6.conf.default.accept_ra=0',
    'net.ipv6.conf.all.autoconf=0',
    'net.ipv6.conf.default.autoconf=0',
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
    `net.ipv6.conf.all.forwarding=${forwarding ? 1 : 0}`,
  ])
}

const addr6 = (ns: string, cidr: string, dev: string) =>
  ip(['-n', ns, '-6', 'addr', 'add', cidr, 'dev', dev, 'nodad'])

/** The internet namespace's IPv6: its own, the servers' and observers' addresses on `br0`. */
export async function buildInternet6(inet: string, addresses: readonly string[]): Promise<void> {
  for (const a of new Set([BRIDGE6_IP, ...addresses]))
    await addr6(inet, `${a}/${BRIDGE6_PREFIX_LEN}`, 'br0')
}

/**
 * One peer's IPv6: the router's WAN on the bridge, its LAN /64, the hosts' addresses and
 * routes (towards 2001:db8::/32 only, never a default route), the internet's route to the LAN,
 * and the firewall.
 */
export async function buildPeer6(inet: string, p: Peer6Plan): Promise<void> {
  const r = p.router
  const a = p.v6
  await addr6(r, `${a.routerWanIp}/${BRIDGE6_PREFIX_LEN}`, 'wan')
  await ip(['-n', r, '-6', 'route', 'add', PUBLIC6_CIDR, 'via', BRIDGE6_IP, 'dev', 'wan'])
  await addr6(r, `${a.routerLanIp}/64`, 'lan')
  for (const [h, hostIp] of p.hosts) {
    await addr6(h, `${hostIp}/64`, 'eth0')
    await ip(['-n', h, '-6', 'route', 'add', PUBLIC6_CIDR, 'via', a.routerLanIp, 'dev', 'eth0'])
    await nftLoad(h, host6Ruleset())
  }
  await ip(['-n', inet, '-6', 'route', 'add', a.lanPrefix, 'via', a.routerWanIp, 'dev', 'br0'])
  await nftLoad(r, firewall6Ruleset({ syn: p.syn }))
}

/** One flow a router's IPv6 firewall counted: `out` LAN → WAN, `in` WAN → LAN (accepted). */
export interface Flow6 {
  readonly dir: 'out' | 'in'
  readonly src: string
  readonly dst: string
  readonly packets: number
  readonly bytes: number
}

/** The per-flow counters of a router's IPv6 firewall (sets `out6` and `in6` of `natlab_fw6`). */
export async function firewallFlows6(routerNs: string): Promise<Flow6[]> {
  const out: Flow6[] = []
  for (const [dir, set] of [
    ['out', 'out6'],
    ['in', 'in6'],
  ] as const) {
    const { stdout } = await nsRun(routerNs, tool('nft'), [
      '-j',
      'list',
      'set',
      'ip6',
      'natlab_fw6',
      set,
    ])
    out.push(...parseFlows6(stdout, dir))
  }
  return out
}

/** Parses `nft -j list set` output of a flow set (exported for unit tests). */
export function parseFlows6(json: string, dir: 'out' | 'in'): Flow6[] {
  const out: Flow6[] = []
  const doc = JSON.parse(json) as { nftables: { set?: { elem?: unknown[] } }[] }
  for (const item of doc.nftables) {
    for (const e of item.set?.elem ?? []) {
      const rec = e as {
        elem?: { val?: { concat?: unknown[] }; counter?: { packets: number; bytes: number } }
      }
      const c = rec.elem?.val?.concat
      if (!Array.isArray(c)) continue
      out.push({
        dir,
        src: String(c[0]),
        dst: String(c[1]),
        packets: Number(rec.elem?.counter?.packets ?? 0),
        bytes: Number(rec.elem?.counter?.bytes ?? 0),
      })
    }
  }
  return out
}

/** The rule counters of a router's IPv6 firewall chain `forward_f`, by the rule's verdict text. */
export async function firewallRuleCounters6(
  routerNs: string,
): Promise<{ rule: string; packets: number; bytes: number }[]> {
  const { stdout } = await nsRun(routerNs, tool('nft'), [
    'list',
    'chain',
    'ip6',
    'natlab_fw6',
    'forward_f',
  ])
  const out: { rule: string; packets: number; bytes: number }[] = []
  for (const line of stdout.split('\n')) {
    const m = /^\s*(.*?)counter packets (\d+) bytes (\d+)\s*(.*)$/.exec(line)
    if (m) out.push({ rule: `${m[1]}${m[4]}`.trim(), packets: Number(m[2]), bytes: Number(m[3]) })
  }
  return out
}
