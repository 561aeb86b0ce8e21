import { isP2pdError } from '@p2pd/interface'
import { createNode, type P2pdNode, reverse } from '@p2pd/node'
import { type MqttSignaling, mqttSignaling } from '@p2pd/signal-mqtt'
import { MissingServerError } from '@p2pd/testkit'
import { startAedes } from '@p2pd/testkit/aedes'
import { floodTopic, forgeEnvelopes } from '@p2pd/testkit/forged-envelopes'
import { startMosquitto } from '@p2pd/testkit/mosquitto'
import type { Scenario, ScenarioResult } from '../scenario.js'

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number)
}

/** One reverse connect from `a` to `b`; its time in ms, or undefined when it failed. */
async function reverseConnect(a: P2pdNode, b: P2pdNode, timeoutMs: number) {
  const t0 = performance.now()
  try {
    const pipe = await a.connect(b.addressText, { strategies: [reverse()], timeoutMs })
    const ms = performance.now() - t0
    await pipe.close()
    return ms
  } catch (err) {
    if (!isP2pdError(err)) throw err
    return undefined
  }
}

async function broker(): Promise<{
  url: string
  port: number
  kind: string
  stop(): Promise<void>
}> {
  try {
    const m = await startMosquitto()
    return { url: m.url, port: m.port, kind: 'mosquitto', stop: () => m.stop() }
  } catch (err) {
    if (!(err instanceof MissingServerError)) throw err
    const a = await startAedes()
    return { url: a.url, port: a.port, kind: 'aedes', stop: () => a.close() }
  }
}

/**
 * A flooder publishes well-formed forged envelopes (each forcing the full open: key agreement,
 * decryption, signature) to the victim's topic while a known peer asks it for reverse
 * connects; the connects must still succeed, about as fast as without the flood.
 */
const forgedFlood: Scenario = {
  group: 'signaling',
  name: 'forged envelope flood vs reverse connects',
  async run({ short, log }): Promise<ScenarioResult[]> {
    const envelopes = short ? 3_000 : 10_000
    const floodMs = short ? 1_500 : 5_000
    const connects = short ? 6 : 20
    const baselineRuns = short ? 3 : 10
    const firstContacts = short ? 1 : 3
    const timeoutMs = 5_000
    const server = await broker()
    const nodes: P2pdNode[] = []
    const mk = () => {
      const node = createNode({
        signaling: (identity) =>
          mqttSignaling({ identity, brokers: [server.url], connectTo: [0], startTimeoutMs: 5_000 }),
        strategies: [reverse()],
        listen: { host: '127.0.0.1' },
        networkCheckMs: 0,
      })
      node.on('pipe', (p) => void p.close().catch(() => {}))
      nodes.push(node)
      return node
    }
    try {
      const a = mk()
      const b = mk()
      await Promise.all([a.start(), b.start()])
      const metrics = () => (b.signaling as MqttSignaling).metrics
      const baseline: number[] = []
      for (let k = 0; k < baselineRuns; k++) {
        const ms = await reverseConnect(a, b, timeoutMs)
        if (ms !== undefined) baseline.push(ms)
      }
      log(`baseline: ${baseline.length}/${baselineRuns}, median ${median(baseline).toFixed(0)} ms`)
      const strangers = await Promise.all(Array.from({ length: firstContacts }, mk))
      await Promise.all(strangers.map((s) => s.start()))

      const t0 = performance.now()
      const forged = forgeEnvelopes(b.nodeId, envelopes)
      log(`forged ${forged.length} envelopes in ${(performance.now() - t0).toFixed(0)} ms`)
      const before = { ...metrics(), dropped: { ...metrics().dropped } }
      const topic = (b.signaling as MqttSignaling).topic
      const flooding = floodTopic(server.port, topic, forged, floodMs)
      // Spread the connects over the flood, each started while it is running.
      const attempts: Promise<number | undefined>[] = []
      for (let k = 0; k < connects; k++) {
        attempts.push(
          new Promise((r) => setTimeout(r, (k * floodMs) / connects)).then(() =>
            reverseConnect(a, b, timeoutMs),
          ),
        )
      }
      const firsts = strangers.map((s, k) =>
        new Promise((r) => setTimeout(r, ((k + 0.5) * floodMs) / firstContacts)).then(() =>
          reverseConnect(s, b, timeoutMs),
        ),
      )
      const [sent, times, firstTimes] = await Promise.all([
        flooding,
        Promise.all(attempts),
        Promise.all(firsts),
      ])
      const ok = times.filter((t): t is number => t !== undefined)
      const m = metrics()
      const d = (k: keyof typeof m.dropped) => (m.dropped[k] ?? 0) - (before.dropped[k] ?? 0)
      const floodMedian = median(ok)
      const baseMedian = median(baseline)
      const need = Math.ceil(connects * 0.95)
      const pass = baseline.length > 0 && ok.length >= need && floodMedian <= baseMedian + 1_000
      const firstOk = firstTimes.filter((t) => t !== undefined).length
      return [
        {
          name: `${envelopes.toLocaleString('en')} forged envelopes in ${floodMs / 1000} s`,
          attempts: sent.sent,
          fault: 'well-formed forged envelopes (fresh ephemeral key, valid AEAD, bad signature)',
          outcome:
            `${ok.length}/${connects} reverse connects from a known peer; median ` +
            `${floodMedian.toFixed(0)} ms vs ${baseMedian.toFixed(0)} ms without the flood; ` +
            `victim opened ${(m.opened ?? 0) - (before.opened ?? 0)}, over budget ` +
            `${d('globalRateLimited') + d('overloaded')}; first contacts ${firstOk}/${firstContacts}`,
          bar: `≥ ${need}/${connects} succeed, median within 1 s of the no-flood median`,
          pass,
          figures: {
            broker: server.kind,
            floodSent: sent.sent,
            floodMs: Math.round(sent.ms),
            connectsOk: ok.length,
            connects,
            medianMs: Math.round(floodMedian),
            baselineMedianMs: Math.round(baseMedian),
            baselineOk: baseline.length,
            opened: (m.opened ?? 0) - (before.opened ?? 0),
            fromPeers: (m.fromPeers ?? 0) - (before.fromPeers ?? 0),
            badSignature: d('badSignature'),
            overBudget: d('globalRateLimited') + d('overloaded'),
            reusedKey: d('reusedKey'),
            firstContactsOk: firstOk,
            firstContacts,
          },
        },
      ]
    } finally {
      await Promise.allSettled(nodes.map((n) => n.stop()))
      await server.stop()
    }
  },
}

export default [forgedFlood] satisfies Scenario[]
