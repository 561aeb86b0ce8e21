/**
 * Prints the NAT classification of this machine (until `p2pd nat` exists):
 *
 *   pnpm exec tsx --conditions=@p2pd/source packages/nat/bin/nat.ts --server 127.0.0.1:3478 \
 *     [--server HOST:PORT …] [--transport udp|tcp|both] [--local IP] [--timeout MS] [--json]
 *
 * Only the servers you name are contacted.
 */
import { deltaTypeName, natTypeName } from '@p2pd/interface'
import { discoverNat, type NatDiscovery, natInfoForInterface } from '../src/index.js'

function args() {
  const a = process.argv.slice(2)
  const servers: string[] = []
  let transport = 'both'
  let local: string | undefined
  let timeoutMs = 3000
  let json = false
  for (let i = 0; i < a.length; i++) {
    const flag = a[i]
    if (flag === '--json') {
      json = true
      continue
    }
    const v = a[++i]
    if (v === undefined) throw new Error(`${flag} needs a value`)
    if (flag === '--server') servers.push(v)
    else if (flag === '--transport') transport = v
    else if (flag === '--local') local = v
    else if (flag === '--timeout') timeoutMs = Number(v)
    else throw new Error(`unknown argument ${flag}`)
  }
  if (servers.length === 0) throw new Error('give at least one --server HOST:PORT')
  return { servers, transport, local, timeoutMs, json }
}

function line(d: NatDiscovery): string {
  const n = d.natInfo
  const b = d.behaviour
  const delta = d.delta
    ? `${deltaTypeName[n.delta.type]}${n.delta.value ? ` ${n.delta.value > 0 ? '+' : ''}${n.delta.value}` : ''} (confidence ${d.delta.confidence.toFixed(2)})`
    : deltaTypeName[n.delta.type]
  const t = d.timings
  return [
    `${d.transport.toUpperCase()}: ${natTypeName[n.type]} (type ${n.type})`,
    `  mapped     ${b.mapped ? `${b.mapped.host}:${b.mapped.port}` : '—'} from ${b.local.host}:${b.local.port}`,
    `  mapping    ${d.mapping}   filtering ${d.filtering} (${b.filteringSource})`,
    `  preserving ${d.preserving}   hairpin ${d.hairpin}   delta ${delta}${n.range ? `   range ${n.range.join('–')}` : ''}`,
    `  timings    total ${t.totalMs.toFixed(0)} ms, mapping ${t.mappingMs.toFixed(0)} ms${t.filteringMs !== undefined ? `, filtering ${t.filteringMs.toFixed(0)} ms` : ''}${t.deltaMs !== undefined ? `, delta ${t.deltaMs.toFixed(0)} ms` : ''}, RTT ${t.rttMs.toFixed(1)} ms`,
    ...b.notes.map((x) => `  note       ${x}`),
  ].join('\n')
}

async function main() {
  const o = args()
  const base = {
    servers: o.servers,
    timeoutMs: o.timeoutMs,
    ...(o.local ? { localAddress: o.local } : {}),
  }
  if (o.transport === 'both') {
    const r = await natInfoForInterface(base)
    if (o.json) return console.log(JSON.stringify(r, null, 2))
    console.log(line(r.udp))
    console.log(line(r.tcp))
    console.log(
      `peer address: type ${r.natInfo.type} (${natTypeName[r.natInfo.type]}), delta ${r.natInfo.delta.type}/${r.natInfo.delta.value} — ${r.totalMs.toFixed(0)} ms in all`,
    )
    return
  }
  const d = await discoverNat({ ...base, transport: o.transport === 'tcp' ? 'tcp' : 'udp' })
  console.log(o.json ? JSON.stringify(d, null, 2) : line(d))
}

main().catch((err: unknown) => {
  console.error(`nat: ${(err as Error).message}`)
  process.exit(1)
})
