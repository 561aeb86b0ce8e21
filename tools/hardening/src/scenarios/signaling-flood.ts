import { isP2pdError } from '@p2pd/interface'
import { createNode, type P2pdNode, reverse } from '@p2pd/node'
import {
  type MqttSignaling,
  mqttSignaling,
  SIGNALING_DEFAULTS,
  type SignalingMetrics,
} from '@p2pd/signal-mqtt'
import { MissingServerError } from '@p2pd/testkit'
import { startAedes } from '@p2pd/testkit/aedes'
import {
  type FloodItem,
  floodTopic,
  forgeEnvelopes,
  interleave,
  stampForgeries,
} from '@p2pd/testkit/forged-envelopes'
import { startMosquitto } from '@p2pd/testkit/mosquitto'
import type { Scenario, ScenarioResult } from '../scenario.js'

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number)
}
const sleepUntil = (at: number) =>
  new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())))

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

/** Connect times during one flood, and what the victim did meanwhile. */
interface FloodRun {
  readonly sent: number
  readonly ms: number
  readonly known: (number | undefined)[]
  readonly first: (number | undefined)[]
  readonly opened: number
  readonly overBudget: number
  readonly stamped: number
}

/**
 * Forged envelopes flood a victim's topic (each forcing the full open: key agreement,
 * decryption, signature) while a known peer and strangers who never wrote to it ask it for
 * reverse connects; both must still succeed, about as fast as without the flood. Two
 * attackers: one that sends unstamped forgeries only (free to make), and one that also pays
 * the proof of work for as many stamped forgeries as one thread of this machine can mint.
 */
const forgedFlood: Scenario = {
  group: 'signaling',
  name: 'forged envelope flood vs reverse connects (known peers and first contacts)',
  async run({ short, log }): Promise<ScenarioResult[]> {
    const envelopes = short ? 3_000 : 10_000
    const floodMs = short ? 1_500 : 5_000
    const connects = short ? 6 : 20
    const baselineRuns = short ? 3 : 10
    const timeoutMs = 5_000
    const bits = SIGNALING_DEFAULTS.powBits
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
    /** `n` started nodes that never wrote to anyone. */
    const strangers = async (n: number) => {
      const fresh = Array.from({ length: n }, mk)
      await Promise.all(fresh.map((s) => s.start()))
      return fresh
    }
    try {
      const a = mk()
      const b = mk()
      await Promise.all([a.start(), b.start()])
      const metrics = () => (b.signaling as MqttSignaling).metrics
      const topic = (b.signaling as MqttSignaling).topic

      const knownBase: number[] = []
      for (let k = 0; k < baselineRuns; k++) {
        const ms = await reverseConnect(a, b, timeoutMs)
        if (ms !== undefined) knownBase.push(ms)
      }
      const firstBase: number[] = []
      for (const s of await strangers(baselineRuns)) {
        const ms = await reverseConnect(s, b, timeoutMs)
        if (ms !== undefined) firstBase.push(ms)
      }
      log(
        `baseline: known peer ${knownBase.length}/${baselineRuns}, median ` +
          `${median(knownBase).toFixed(0)} ms; first contact ${firstBase.length}/${baselineRuns}, ` +
          `median ${median(firstBase).toFixed(0)} ms`,
      )

      /** One flood of `items`; `withKnown`: the known peer connects too. */
      const flood = async (items: FloodItem[], withKnown: boolean): Promise<FloodRun> => {
        const fresh = await strangers(connects)
        const before = snapshot(metrics())
        const started = performance.now()
        const flooding = floodTopic(server.port, topic, items, floodMs)
        // Spread the connects over the flood, each started while it is running.
        const at = (k: number, shift: number) => started + ((k + shift) * floodMs) / connects
        const known = withKnown
          ? Array.from({ length: connects }, (_, k) =>
              sleepUntil(at(k, 0)).then(() => reverseConnect(a, b, timeoutMs)),
            )
          : []
        const first = fresh.map((s, k) =>
          sleepUntil(at(k, 0.5)).then(() => reverseConnect(s, b, timeoutMs)),
        )
        const [sent, knownTimes, firstTimes] = await Promise.all([
          flooding,
          Promise.all(known),
          Promise.all(first),
        ])
        await Promise.allSettled(fresh.map((s) => s.stop()))
        const m = metrics()
        const d = (k: keyof SignalingMetrics['dropped']) => m.dropped[k] - before.dropped[k]
        return {
          sent: sent.sent,
          ms: sent.ms,
          known: knownTimes,
          first: firstTimes,
          opened: m.opened - before.opened,
          overBudget: d('globalRateLimited') + d('overloaded'),
          stamped: m.stamped - before.stamped,
        }
      }

      const row = (
        run: FloodRun,
        who: 'known' | 'first',
        name: string,
        fault: string,
        extra: Record<string, number | string> = {},
      ): ScenarioResult => {
        const times = who === 'known' ? run.known : run.first
        const base = who === 'known' ? knownBase : firstBase
        const ok = times.filter((t): t is number => t !== undefined)
        const need = Math.ceil(connects * 0.95)
        const floodMedian = median(ok)
        const baseMedian = median(base)
        const whom = who === 'known' ? 'from a known peer' : 'first contacts (fresh nodes)'
        return {
          name,
          attempts: run.sent,
          fault,
          outcome:
            `${ok.length}/${connects} reverse connects ${whom}; median ` +
            `${floodMedian.toFixed(0)} ms vs ${baseMedian.toFixed(0)} ms without the flood; ` +
            `victim opened ${run.opened}, over budget ${run.overBudget}, stamped ${run.stamped}`,
          bar: `≥ ${need}/${connects} succeed, median within 1 s of the no-flood median`,
          pass: base.length > 0 && ok.length >= need && floodMedian <= baseMedian + 1_000,
          figures: {
            broker: server.kind,
            floodSent: run.sent,
            floodMs: Math.round(run.ms),
            connectsOk: ok.length,
            connects,
            medianMs: Math.round(floodMedian),
            baselineMedianMs: Math.round(baseMedian),
            baselineOk: base.length,
            opened: run.opened,
            overBudget: run.overBudget,
            stamped: run.stamped,
            powBits: bits,
            ...extra,
          },
        }
      }

      const t0 = performance.now()
      const forged = forgeEnvelopes(b.nodeId, envelopes).map((payload) => ({ payload }))
      log(`forged ${forged.length} envelopes in ${(performance.now() - t0).toFixed(0)} ms`)
      const plain = await flood(forged, true)
      const title = `${envelopes.toLocaleString('en')} forged envelopes in ${floodMs / 1000} s`
      const unstamped = 'well-formed forged envelopes, no stamp (fresh ephemeral key, valid AEAD)'
      const results = [
        row(plain, 'known', `${title}: known peer`, unstamped),
        row(plain, 'first', `${title}: first contact`, unstamped),
      ]

      // The paying attacker: one thread mints stamps for as long as the flood lasts.
      const paid = await stampForgeries(forgeEnvelopes(b.nodeId, 2_000), bits, floodMs)
      log(
        `attacker thread: ${paid.stampsPerSecond.toFixed(1)} stamps/s ` +
          `(${(paid.hashesPerSecond / 1e6).toFixed(2)} M hashes/s, ${bits} bits)`,
      )
      const mixed = await flood(
        interleave(
          forgeEnvelopes(b.nodeId, envelopes).map((payload) => ({ payload })),
          paid.items,
        ),
        false,
      )
      const { rate } = SIGNALING_DEFAULTS.stampedRate
      results.push(
        row(
          mixed,
          'first',
          `${title} + ${paid.items.length} stamped: first contact`,
          `the same flood plus stamped forgeries (${bits}-bit proof of work, one attacker thread)`,
          {
            stampedForgeries: paid.items.length,
            attackerStampsPerSecond: Number(paid.stampsPerSecond.toFixed(1)),
            attackerHashesPerSecond: Math.round(paid.hashesPerSecond),
            // Threads like this one an attacker needs to fill the stamped budget.
            threadsToFillStampedLane: Number((rate / paid.stampsPerSecond).toFixed(1)),
          },
        ),
      )
      return results
    } finally {
      await Promise.allSettled(nodes.map((n) => n.stop()))
      await server.stop()
    }
  },
}

function snapshot(m: SignalingMetrics): SignalingMetrics {
  return { ...m, dropped: { ...m.dropped } }
}

export default [forgedFlood] satisfies Scenario[]
