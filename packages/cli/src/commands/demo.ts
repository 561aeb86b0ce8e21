import { Deadline, type Strategy } from '@p2pd/interface'
import { createNode, direct, type P2pdNode, reverse } from '@p2pd/node'
import { punch } from '@p2pd/punch'
import { turn } from '@p2pd/turn'
import { intFlag, listFlag, parseFlags } from '../args.js'
import { type Infra, startInfra } from '../infra.js'
import { renderTable } from '../table.js'
import { exchange, type TransferResult } from '../transfer.js'

const STRATEGY_NAMES = ['direct', 'reverse', 'punch', 'turn', 'auto'] as const

interface Row {
  readonly name: string
  readonly winner?: string
  readonly connectMs?: number
  readonly transfer?: TransferResult
  readonly error?: string
}

/** The strategies the demo exercises, each alone, then all together ("auto"). */
function demoStrategies(infra: Infra): Array<{ name: string; make: () => Strategy[] }> {
  const relay = () => turn({ servers: [infra.turnConfig] })
  // Same machine: punch runs in its same-machine mode (fresh ports on loopback).
  const holePunch = () => punch({ stunServers: [infra.stun.primary] })
  return [
    { name: 'direct', make: () => [direct()] },
    { name: 'reverse', make: () => [reverse()] },
    { name: 'punch', make: () => [holePunch()] },
    { name: 'turn', make: () => [relay()] },
    { name: 'auto', make: () => [direct(), reverse(), holePunch(), relay()] },
  ]
}

/**
 * `p2pd demo`: starts the embedded servers on loopback, two nodes with their own identities,
 * connects them by each strategy, moves data both ways, verifies it, prints a table.
 * Resolves to the process exit code (0 only if every row verified).
 */
export async function demoCommand(
  argv: readonly string[],
  out: (line: string) => void,
): Promise<number> {
  const { flags } = parseFlags(
    argv,
    {
      mb: { type: 'string' },
      only: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
    },
    { max: 0 },
  )
  const mb = intFlag(flags, 'mb', 4, { min: 1, max: 1024 })
  const only = listFlag(flags, 'only', STRATEGY_NAMES)

  const t0 = performance.now()
  out('› starting embedded servers on loopback …')
  const infra = await startInfra()
  for (const line of infra.describe()) out(`  ${line}`)
  const nodes: P2pdNode[] = []
  const rows: Row[] = []
  try {
    const mk = () =>
      createNode({
        signaling: infra.signaling,
        clock: infra.clock,
        strategies: demoStrategies(infra)
          .find((s) => s.name === 'auto')
          ?.make(),
        listen: { host: '127.0.0.1' },
        log: flags.verbose ? (m) => out(`    · ${m}`) : undefined,
      })
    const a = mk()
    const b = mk()
    nodes.push(a, b)
    out('› starting two nodes …')
    const [, bText] = await Promise.all([a.start(), b.start()])
    out(`  alice ${a.nodeId.slice(0, 20)}…`)
    out(`  bob   ${b.nodeId.slice(0, 20)}…  ${bText.slice(0, 60)}…`)

    for (const { name, make } of demoStrategies(infra)) {
      if (only && !(only as readonly string[]).includes(name)) continue
      out(`› ${name}: connecting …`)
      const deadline = new Deadline(30_000, undefined, `${name} demo`)
      const signal = deadline.signal
      try {
        const t = performance.now()
        const [pipe, inbound] = await Promise.all([
          a.connect(bText, { strategies: make(), signal }),
          b.accept({ signal }),
        ])
        const connectMs = performance.now() - t
        out(
          `  connected via ${pipe.strategy} in ${connectMs.toFixed(0)} ms; sending ${mb} MB each way …`,
        )
        const transfer = await exchange(pipe, inbound, mb * 1024 * 1024, signal)
        rows.push({ name, winner: pipe.strategy, connectMs, transfer })
        await Promise.all([pipe.close(), inbound.close()])
      } catch (err) {
        rows.push({ name, error: (err as Error).message })
        out(`  failed: ${(err as Error).message}`)
      } finally {
        deadline.dispose()
      }
    }
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    await infra.close()
  }

  out('')
  out(
    renderTable(
      ['strategy', 'winner', 'connect', 'throughput', 'verified'],
      rows.map((r) => [
        r.name,
        r.winner ?? '-',
        r.connectMs !== undefined ? `${r.connectMs.toFixed(0)} ms` : '-',
        r.transfer ? `${r.transfer.mbps.toFixed(0)} Mbit/s` : '-',
        r.transfer?.verified ? 'yes' : `NO${r.error ? ` (${r.error})` : ''}`,
      ]),
    ),
  )
  const ok = rows.length > 0 && rows.every((r) => r.transfer?.verified)
  out('')
  out(
    `${ok ? 'all verified' : 'NOT all verified'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  return ok ? 0 : 1
}
