import { natTypeName } from '@p2pd/interface'
import { discoverNat, formatNatDiscovery, natInfoForInterface } from '@p2pd/nat'
import { intFlag, parseFlags, UsageError } from '../args.js'

/**
 * `p2pd nat --server HOST:PORT …`: classifies the NAT in front of this machine (UDP and TCP by
 * default) against the STUN servers named — and only those — and prints timings.
 */
export async function natCommand(
  argv: readonly string[],
  out: (line: string) => void,
): Promise<void> {
  const { flags } = parseFlags(argv, {
    server: { type: 'string', multiple: true },
    transport: { type: 'string' },
    local: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  })
  const servers = (flags.server as string[] | undefined) ?? []
  if (servers.length === 0) throw new UsageError('nat needs at least one --server HOST:PORT')
  const transport = (flags.transport as string | undefined) ?? 'both'
  if (!['udp', 'tcp', 'both'].includes(transport)) {
    throw new UsageError('--transport must be udp, tcp or both')
  }
  const base = {
    servers,
    timeoutMs: intFlag(flags, 'timeout', 3_000),
    ...(typeof flags.local === 'string' ? { localAddress: flags.local } : {}),
  }
  if (transport === 'both') {
    const r = await natInfoForInterface(base)
    if (flags.json) return out(JSON.stringify(r, null, 2))
    out(formatNatDiscovery(r.udp))
    out(formatNatDiscovery(r.tcp))
    const n = r.natInfo
    out(
      `peer address: ${natTypeName[n.type]} (type ${n.type}), delta ${n.delta.type}/${n.delta.value} — ${r.totalMs.toFixed(0)} ms in all`,
    )
    return
  }
  const d = await discoverNat({ ...base, transport: transport as 'udp' | 'tcp' })
  out(flags.json ? JSON.stringify(d, null, 2) : formatNatDiscovery(d))
}
