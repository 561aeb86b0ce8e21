import { natTypeName } from '@p2pd/interface'
import { discoverNat, formatNatDiscovery, type NatDiscovery, natInfoForInterface } from '@p2pd/nat'
import { choiceFlag, intFlag, parseFlags, UsageError } from '../args.js'
import { resolveConfig } from '../config.js'

const answered = (d: NatDiscovery) => d.behaviour.mapped !== undefined

/**
 * `p2pd nat --server HOST:PORT …`: classifies the NAT in front of this machine (UDP and TCP by
 * default) against the STUN servers named — and only those — and prints timings. Resolves to
 * the exit code: 1 when no server answered on a transport that was asked for.
 */
export async function natCommand(
  argv: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void = (l) => console.error(l),
): Promise<number> {
  const { flags } = parseFlags(argv, {
    server: { type: 'string', multiple: true },
    transport: { type: 'string' },
    local: { type: 'string' },
    family: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
    config: { type: 'string' },
  })
  let servers = (flags.server as string[] | undefined) ?? []
  if (servers.length === 0 && typeof flags.config === 'string') {
    // Only the file's own servers: never the public defaults behind the user's back.
    const { config, sources } = await resolveConfig({ config: flags.config }, {})
    if (sources.stun === 'file') {
      servers = [...(config.stun.classify.length > 0 ? config.stun.classify : config.stun.udp)]
    }
    if (servers.length === 0) throw new UsageError(`${flags.config} names no STUN server`)
  }
  if (servers.length === 0) {
    throw new UsageError(
      'nat needs at least one --server HOST:PORT (a STUN server to ask), or --config FILE',
    )
  }
  const transport = choiceFlag(flags, 'transport', ['udp', 'tcp', 'both'] as const, 'both')
  // Default: the family of --local, else IPv6 when every server is an IPv6 literal, else IPv4.
  const family = choiceFlag(flags, 'family', ['4', '6', 'auto'] as const, 'auto')
  const base = {
    servers,
    timeoutMs: intFlag(flags, 'timeout', 3_000, { min: 1 }),
    ...(typeof flags.local === 'string' ? { localAddress: flags.local } : {}),
    ...(family === 'auto' ? {} : { family: Number(family) as 4 | 6 }),
  }
  const silent = (ds: NatDiscovery[]) => {
    const dead = ds.filter((d) => !answered(d)).map((d) => d.transport.toUpperCase())
    if (dead.length === 0) return 0
    err(
      `p2pd nat: no STUN server answered over ${dead.join(' or ')} (${servers.join(', ')}): ` +
        'check the address and port, and that a firewall lets the traffic out',
    )
    return 1
  }
  if (transport === 'both') {
    const r = await natInfoForInterface(base)
    if (flags.json) out(JSON.stringify(r, null, 2))
    else {
      out(formatNatDiscovery(r.udp))
      out(formatNatDiscovery(r.tcp))
      const n = r.natInfo
      const ipv = `IPv${r.tcp.behaviour.family}`
      out(
        `peer address: ${natTypeName[n.type]} (type ${n.type}), delta ${n.delta.type}/${n.delta.value}, ${ipv} — ${r.totalMs.toFixed(0)} ms in all`,
      )
      const untranslated = noTranslation(r.tcp)
      if (untranslated) out(untranslated)
    }
    return silent([r.udp, r.tcp])
  }
  const d = await discoverNat({ ...base, transport })
  out(flags.json ? JSON.stringify(d, null, 2) : formatNatDiscovery(d))
  const untranslated = !flags.json && transport === 'tcp' ? noTranslation(d) : undefined
  if (untranslated) out(untranslated)
  return silent([d])
}

/**
 * For an interface without NAT (the usual IPv6 case): whether the firewall in front lets
 * unsolicited TCP in, which is what decides direct dials versus a punch.
 */
export function noTranslation(tcp: NatDiscovery): string | undefined {
  const b = tcp.behaviour
  if (b.mapping !== 'none') return undefined
  const syn =
    b.synPolicy && b.synPolicy !== 'unknown' ? `, unsolicited SYNs get ${b.synPolicy}` : ''
  const verdict =
    b.filtering === 'EIF'
      ? 'inbound TCP is open: peers dial this address directly'
      : b.filtering === 'unknown'
        ? 'inbound TCP filtering unknown: peers try direct, then punch'
        : `inbound TCP is filtered (${b.filtering}${syn}) like a port-restricted cone: peers punch (a simultaneous open through the firewall)`
  return `no translation (mapped = local ${b.local.host}): ${verdict}`
}
