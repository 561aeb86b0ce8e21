/**
 * Runs `@p2pd/nat`'s `natInfoForInterface` (RFC 5780 over UDP and TCP) from inside a lab host
 * namespace against one STUN server, and prints one JSON line with the verdict — used to check
 * that our STUN server classifies the lab's NATs exactly as coturn does.
 *
 *   p2pd-nat-probe.ts <local IP> <stun host:port>
 */
import { withDeadline } from '@p2pd/interface'
import { natInfoForInterface } from '@p2pd/nat'

const [localAddress, server] = process.argv.slice(2)
try {
  const r = await withDeadline(
    20_000,
    undefined,
    (signal) =>
      natInfoForInterface({
        servers: [server as string],
        localAddress,
        family: 4,
        signal,
        // Roomier than the default 3 s: CI runs the lab cells in parallel on two cores.
        timeoutMs: 6000,
      }),
    'NAT probe',
  )
  const side = (d: typeof r.udp) => ({
    mapping: d.mapping,
    filtering: d.filtering,
    preserving: d.preserving,
    natInfo: d.natInfo,
    mapped: d.behaviour.mapped,
    filteringSource: d.behaviour.filteringSource,
    synPolicy: d.behaviour.synPolicy,
    notes: d.behaviour.notes,
  })
  const out = { ok: true, natInfo: r.natInfo, udp: side(r.udp), tcp: side(r.tcp), ms: r.totalMs }
  process.stdout.write(`${JSON.stringify(out)}\n`)
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`)
}
process.exit(0)
