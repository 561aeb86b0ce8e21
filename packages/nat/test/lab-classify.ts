/**
 * Runs inside a NAT-lab host namespace (spawned by lab.test.ts through natlab's
 * `runInNamespace`): classifies the NAT in front of this host over UDP and TCP against the
 * lab's STUN server, checks that the first predicted port is the next mapping, and prints one
 * JSON line. Arguments: `--server HOST:PORT --alt HOST:PORT`.
 */
import { DeltaType, type Endpoint, NatType } from '@p2pd/interface'
import { parseServer, type StunUdpClient } from '@p2pd/stun'
import {
  discoverExternalAddress,
  type NatDiscovery,
  natInfoForInterface,
  observeMapping,
  predictPorts,
  type Transport,
} from '../src/index.js'

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] as string) : ''
}
const server = parseServer(arg('server'))
const alt = parseServer(arg('alt'))

function summary(d: NatDiscovery) {
  return {
    natInfo: d.natInfo,
    mapping: d.mapping,
    filtering: d.filtering,
    filteringSource: d.behaviour.filteringSource,
    preserving: d.preserving,
    hairpin: d.hairpin,
    delta: d.delta && {
      model: d.delta.model,
      value: d.delta.value,
      confidence: Number(d.delta.confidence.toFixed(3)),
      ports: d.delta.observations.map((s) => s && `${s.local}>${s.mapped}`),
    },
    mapped: d.behaviour.mapped,
    local: d.behaviour.local,
    notes: d.behaviour.notes,
    timings: Object.fromEntries(Object.entries(d.timings).map(([k, v]) => [k, Math.round(v)])),
  }
}

/** Predicts our next public port, then opens that socket towards another address and looks. */
async function predictionHit(transport: Transport, d: NatDiscovery, to: Endpoint) {
  const observed = await observeMapping({ server, transport })
  try {
    const theirs = { type: NatType.PortRestrictedCone, delta: { type: DeltaType.Equal, value: 0 } }
    const plan = predictPorts({ ours: d.natInfo, theirs, observed, count: 3 })
    const c = plan.candidates[0]
    if (!c) return { model: plan.model, feasible: plan.feasible, tested: false }
    let actual: number
    if (c.reuseObserved && transport === 'udp') {
      actual = (await (observed.client as StunUdpClient).binding(to, { timeoutMs: 2000 })).mapped
        .port
    } else {
      const probe = await observeMapping({
        server: to,
        transport,
        ...(c.reuseObserved
          ? { localAddress: observed.local.host, localPort: observed.local.port }
          : c.localPort
            ? { localPort: c.localPort }
            : {}),
      })
      actual = probe.mapped.port
      await probe.close()
    }
    return {
      model: plan.model,
      tested: true,
      predicted: c.externalPort,
      actual,
      hit: actual === c.externalPort,
    }
  } finally {
    await observed.close()
  }
}

async function main() {
  const nat = await natInfoForInterface({ servers: [server], timeoutMs: 4000 })
  const external = await discoverExternalAddress({
    servers: [server, alt],
    scope: { publicRanges: ['198.18.0.0/15'] },
  })
  const prediction = {
    udp: await predictionHit('udp', nat.udp, alt),
    tcp: await predictionHit('tcp', nat.tcp, alt),
  }
  process.stdout.write(
    `${JSON.stringify({
      ok: true,
      natInfo: nat.natInfo,
      totalMs: Math.round(nat.totalMs),
      udp: summary(nat.udp),
      tcp: summary(nat.tcp),
      external: { ip: external.ip, agreed: external.agreed, public: external.public },
      prediction,
    })}\n`,
  )
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(err) })}\n`)
    process.exit(1)
  },
)
