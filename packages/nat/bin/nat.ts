/**
 * Prints the NAT classification of this machine (the same as `p2pd nat`):
 *
 *   pnpm exec tsx --conditions=@p2pd/source packages/nat/bin/nat.ts --server 127.0.0.1:3478 \
 *     [--server HOST:PORT …] [--transport udp|tcp|both] [--local IP] [--timeout MS] [--json]
 *
 * Only the servers you name are contacted.
 */
import { natTypeName } from '@p2pd/interface'
import { discoverNat, formatNatDiscovery, natInfoForInterface } from '../src/index.js'

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
    console.log(formatNatDiscovery(r.udp))
    console.log(formatNatDiscovery(r.tcp))
    console.log(
      `peer address: type ${r.natInfo.type} (${natTypeName[r.natInfo.type]}), delta ${r.natInfo.delta.type}/${r.natInfo.delta.value} — ${r.totalMs.toFixed(0)} ms in all`,
    )
    return
  }
  const d = await discoverNat({ ...base, transport: o.transport === 'tcp' ? 'tcp' : 'udp' })
  console.log(o.json ? JSON.stringify(d, null, 2) : formatNatDiscovery(d))
}

main().catch((err: unknown) => {
  console.error(`nat: ${(err as Error).message}`)
  process.exit(1)
})
