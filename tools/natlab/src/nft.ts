import { type NatProfile, SEQ_BASE_PORT } from './profiles.js'

/**
 * nftables rulesets, as text for `nft -f` (one statement per line: this nft rejects `rule }`
 * on one line). The lab's NAT tests check every profile's recipe against the behaviour it claims.
 */

export interface RouterRulesInput {
  readonly profile: NatProfile
  /** The router's public-side address (what it SNATs to). */
  readonly wanIp: string
  readonly lanPrefix: string
  readonly wanIf?: string
  readonly lanIf?: string
}

/**
 * Ports in a sequential NAT's pool. A real one hands out thousands; the first lab used 64, and
 * in long matrix runs the counter wrapped within conntrack's 120 s TIME_WAIT: a new flow to the
 * STUN server then drew a port whose tuple was still taken, its SYN died, and sequential NATs
 * read as random or blocked (18–25 % of discoveries). 1,024 wraps only after minutes.
 */
const SEQ_SLOTS = 1024

/** `numgen inc mod N map { 0 : base, 1 : base+k, … }`: the plain offset form has a byte-order quirk. */
export function sequentialPortMap(delta: number, base = SEQ_BASE_PORT, slots = SEQ_SLOTS): string {
  const items: string[] = []
  for (let i = 0; i < slots; i++) items.push(`${i} : ${base + ((i * delta) % (65535 - base))}`)
  return `numgen inc mod ${slots} map { ${items.join(', ')} }`
}

/** The mapping (postrouting SNAT) rules of one profile. */
export function snatRules(profile: NatProfile, wan: string, wanIp: string): string[] {
  const out = `oifname "${wan}"`
  const p = profile.ports
  switch (p.kind) {
    case 'preserving':
      return [`${out} snat ip to ${wanIp}`]
    case 'range':
      return [
        `${out} meta l4proto { tcp, udp } snat ip to ${wanIp}:${p.from}-${p.to}`,
        `${out} snat ip to ${wanIp}`,
      ]
    case 'sequential':
      // One rule per protocol: TCP and UDP get their own counters.
      return [
        `${out} meta l4proto tcp snat ip to ${wanIp} : ${sequentialPortMap(p.delta, p.base)}`,
        `${out} meta l4proto udp snat ip to ${wanIp} : ${sequentialPortMap(p.delta, p.base)}`,
        `${out} snat ip to ${wanIp}`,
      ]
    case 'random':
      return [`${out} snat ip to ${wanIp} fully-random`]
  }
}

/**
 * The whole ruleset of a NAT router. Mapping comes from the SNAT rule; the `cone` map learns
 * "external proto.port → LAN ip.port" after SNAT (so it works for TCP too) and is used for
 * inbound DNAT by EIF/ADF profiles and for hairpinning; filtering is a forward-chain tail.
 */
export function routerRuleset(input: RouterRulesInput): string {
  const { profile, wanIp, lanPrefix } = input
  const wan = input.wanIf ?? 'wan'
  const lan = input.lanIf ?? 'lan'
  const t = profile.timeouts
  const coneInbound = profile.filtering === 'EIF' || profile.filtering === 'ADF'
  const L: string[] = []
  L.push('table ip natlab_nat {')
  L.push('  map cone {')
  L.push('    type inet_proto . inet_service : ipv4_addr . inet_service')
  L.push('    flags dynamic,timeout')
  L.push(`    timeout ${t.coneMap}s`)
  L.push('  }')
  L.push('  chain pre {')
  L.push('    type nat hook prerouting priority dstnat; policy accept;')
  // With +portmap the cone's own DNAT carries ct mark 1, so the filter can tell it from
  // miniupnpd's (whose chain runs first, at priority -150, and leaves the mark 0).
  const coneMark = profile.portmap ? 'ct mark set 0x1 ' : ''
  if (coneInbound)
    L.push(
      `    iifname "${wan}" meta l4proto { tcp, udp } ${coneMark}dnat ip to meta l4proto . th dport map @cone`,
    )
  if (profile.hairpin)
    L.push(
      `    iifname "${lan}" ip daddr ${wanIp} meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @cone`,
    )
  L.push('  }')
  L.push('  chain post {')
  L.push('    type nat hook postrouting priority srcnat; policy accept;')
  if (profile.hairpin)
    L.push(`    oifname "${lan}" ip saddr ${lanPrefix} ct status dnat snat ip to ${wanIp}`)
  // The router's own traffic (miniupnpd's STUN check) leaves as itself, unmapped.
  if (profile.portmap) L.push(`    oifname "${wan}" ip saddr ${wanIp} accept`)
  for (const r of snatRules(profile, wan, wanIp)) L.push(`    ${r}`)
  L.push('  }')
  L.push('  chain learn {')
  L.push('    type filter hook postrouting priority 110; policy accept;')
  L.push(
    `    oifname "${wan}" ct direction original meta l4proto { tcp, udp } update @cone { meta l4proto . th sport timeout ${t.coneMap}s : ct original ip saddr . ct original proto-src }`,
  )
  L.push('  }')
  L.push('}')

  L.push('table ip natlab_filter {')
  L.push('  set contacted {')
  L.push('    type ipv4_addr . inet_service . ipv4_addr')
  L.push('    flags dynamic,timeout')
  L.push(`    timeout ${t.coneMap}s`)
  L.push('  }')
  L.push('  chain forward_f {')
  L.push('    type filter hook forward priority filter; policy accept;')
  L.push(
    `    oifname "${wan}" meta l4proto { tcp, udp } update @contacted { ip saddr . th sport . ip daddr }`,
  )
  L.push(`    iifname "${wan}" ct state established,related accept`)
  // A port mapping is reachable from anywhere, whatever the profile's filtering.
  if (profile.portmap) L.push(`    iifname "${wan}" ct status dnat ct mark != 0x1 accept`)
  if (profile.filtering === 'EIF') L.push(`    iifname "${wan}" ct status dnat accept`)
  if (profile.filtering === 'ADF')
    L.push(
      `    iifname "${wan}" ct status dnat meta l4proto { tcp, udp } ip daddr . th dport . ip saddr @contacted accept`,
    )
  if (profile.syn === 'rst') L.push(`    iifname "${wan}" meta l4proto tcp reject with tcp reset`)
  L.push(`    iifname "${wan}" drop`)
  L.push('  }')
  L.push('  chain input_f {')
  L.push('    type filter hook input priority filter; policy accept;')
  if (profile.syn === 'drop')
    L.push(`    iifname "${wan}" tcp flags & (syn | ack) == syn ct state new drop`)
  L.push('  }')
  L.push('}')
  return `${L.join('\n')}\n`
}

/** A CGNAT router: plain port-preserving SNAT, APDF, the given SYN policy. */
export function cgnatRuleset(wanIp: string, syn: 'drop' | 'rst', wanIf = 'wan'): string {
  const L = [
    'table ip natlab_nat {',
    '  chain pre {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '  }',
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "${wanIf}" snat ip to ${wanIp}`,
    '  }',
    '}',
    'table ip natlab_filter {',
    '  chain forward_f {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname "${wanIf}" ct state established,related accept`,
    ...(syn === 'rst' ? [`    iifname "${wanIf}" meta l4proto tcp reject with tcp reset`] : []),
    `    iifname "${wanIf}" drop`,
    '  }',
    '  chain input_f {',
    '    type filter hook input priority filter; policy accept;',
    ...(syn === 'drop'
      ? [`    iifname "${wanIf}" tcp flags & (syn | ack) == syn ct state new drop`]
      : []),
    '  }',
    '}',
  ]
  return `${L.join('\n')}\n`
}

/**
 * Rules on every lab host: `seen` records each inbound TCP SYN (source ip . port . our port), so
 * the self-check can tell whether a SYN reached the host whatever the host answered. An `open`
 * host with the `drop` policy also silences unsolicited SYNs itself (no router does it for it):
 * a SYN with a matching socket (listening, or ours in SYN_SENT) passes, any other new SYN dies.
 */
export function hostRuleset(opts: { silentSyn: boolean; wanIf?: string }): string {
  const wan = opts.wanIf ?? 'wan'
  const L = [
    'table ip natlab_host {',
    '  set seen {',
    '    type ipv4_addr . inet_service . inet_service',
    '    flags dynamic,timeout',
    '    timeout 600s',
    '  }',
    '  chain pre {',
    '    type filter hook prerouting priority -300; policy accept;',
    '    tcp flags & (syn | ack) == syn update @seen { ip saddr . tcp sport . tcp dport }',
    '  }',
  ]
  if (opts.silentSyn) {
    L.push('  chain input_f {')
    L.push('    type filter hook input priority filter; policy accept;')
    L.push(`    iifname "${wan}" tcp flags & (syn | ack) == syn socket transparent 0 accept`)
    L.push(`    iifname "${wan}" tcp flags & (syn | ack) == syn ct state new drop`)
    L.push('  }')
  }
  L.push('}')
  return `${L.join('\n')}\n`
}

/**
 * The tables miniupnpd (nftables build) edits, created by us with policy accept: its DNAT
 * chain runs before the router's own NAT (priority -150), its forward rules only accept, and
 * the router's `natlab_filter` lets its DNATed flows in (see {@link routerRuleset}).
 */
export function miniupnpdRuleset(): string {
  return `${[
    'table inet natlab_upnp {',
    '  chain forward {',
    '    type filter hook forward priority -10; policy accept;',
    '    jump miniupnpd',
    '  }',
    '  chain miniupnpd {',
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority -150; policy accept;',
    '    jump prerouting_miniupnpd',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 90; policy accept;',
    '    jump postrouting_miniupnpd',
    '  }',
    '  chain prerouting_miniupnpd {',
    '  }',
    '  chain postrouting_miniupnpd {',
    '  }',
    '}',
  ].join('\n')}\n`
}

/**
 * The IPv6 side of a router: no translation, a stateful firewall. Outbound passes; inbound
 * passes only as conntrack's established/related (so per address and port, like a
 * port-restricted cone), ICMPv6 echo and errors pass, anything else unsolicited is dropped or,
 * with `syn: 'rst'`, TCP is answered with a RST. The sets `out6` (LAN → WAN) and `in6`
 * (WAN → LAN, accepted as established/related) count packets and bytes per
 * `source . destination` pair, so a test can show a pipe's bytes crossed this firewall
 * directly between two IPv6 hosts (see `firewallFlows6`).
 */
export function firewall6Ruleset(opts: {
  syn: 'drop' | 'rst'
  wanIf?: string
  timeoutSec?: number
}): string {
  const wan = opts.wanIf ?? 'wan'
  const flowSet = (name: string) => [
    `  set ${name} {`,
    '    type ipv6_addr . ipv6_addr',
    '    flags dynamic,timeout',
    `    timeout ${opts.timeoutSec ?? 600}s`,
    '    counter',
    '  }',
  ]
  const L = [
    'table ip6 natlab_fw6 {',
    ...flowSet('out6'),
    ...flowSet('in6'),
    '  chain forward_f {',
    '    type filter hook forward priority filter; policy accept;',
    `    oifname "${wan}" update @out6 { ip6 saddr . ip6 daddr } counter accept`,
    `    iifname "${wan}" ct state established,related update @in6 { ip6 saddr . ip6 daddr } counter accept`,
    `    iifname "${wan}" icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem } counter accept`,
    ...(opts.syn === 'rst'
      ? [`    iifname "${wan}" meta l4proto tcp counter reject with tcp reset`]
      : []),
    `    iifname "${wan}" counter drop`,
    '  }',
    '  chain input_f {',
    '    type filter hook input priority filter; policy accept;',
    ...(opts.syn === 'drop'
      ? [`    iifname "${wan}" tcp flags & (syn | ack) == syn ct state new drop`]
      : []),
    '  }',
    '}',
  ]
  return `${L.join('\n')}\n`
}

/** The IPv6 twin of {@link hostRuleset}'s `seen` set: inbound SYNs as `ip6 . sport . dport`. */
export function host6Ruleset(): string {
  return `${[
    'table ip6 natlab_host6 {',
    '  set seen {',
    '    type ipv6_addr . inet_service . inet_service',
    '    flags dynamic,timeout',
    '    timeout 600s',
    '  }',
    '  chain pre {',
    '    type filter hook prerouting priority -300; policy accept;',
    '    tcp flags & (syn | ack) == syn update @seen { ip6 saddr . tcp sport . tcp dport }',
    '  }',
    '}',
  ].join('\n')}\n`
}
