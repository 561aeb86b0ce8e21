import { generateIdentity } from '@p2pd/identity'
import type { InboundSignal } from '@p2pd/interface'
import { startMosquitto } from '@p2pd/testkit/mosquitto'
import { afterAll, bench, describe } from 'vitest'
import { mqttSignaling, newMessageId, openEnvelope, sealEnvelope } from '../src/index.js'

// One real mosquitto on loopback; Alice and Bob both on it (redundancy 1: one copy per message).
const broker = await startMosquitto()
const options = {
  brokers: [broker.url],
  redundancy: 1,
  perSenderRate: { rate: 1e6, burst: 1e6 },
  globalRate: { rate: 1e6, burst: 1e6 },
  publishTimeoutMs: 60_000,
}
const alice = mqttSignaling({ identity: generateIdentity(), ...options })
const bob = mqttSignaling({ identity: generateIdentity(), ...options })
await Promise.all([alice.start(), bob.start()])

let waiting: ((m: InboundSignal) => void) | undefined
let pendingCount = 0
let burstDone: (() => void) | undefined
bob.subscribe((m) => {
  waiting?.(m)
  if (burstDone && --pendingCount === 0) burstDone()
})

const latencies: number[] = []
const to = { nodeId: bob.nodeId, signal: bob.offsets }

afterAll(async () => {
  latencies.sort((a, b) => a - b)
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  console.log(
    `seal+publish→receive+open over mosquitto: median ${at(0.5)?.toFixed(2)} ms, ` +
      `p99 ${at(0.99)?.toFixed(2)} ms (${latencies.length} samples)`,
  )
  await Promise.all([alice.close(), bob.close()])
  await broker.stop()
})

describe('envelope', () => {
  const a = generateIdentity()
  const b = generateIdentity()
  const payload = () => ({
    v: 1,
    id: newMessageId(),
    ts: Date.now(),
    from: a.nodeId,
    sid: '0123456789abcdef',
    seq: 0,
    type: 'app/x',
    body: { n: 1 },
  })
  const sealed = sealEnvelope(a, b.nodeId, payload())
  bench('seal (sign + encrypt)', () => {
    sealEnvelope(a, b.nodeId, payload())
  })
  bench('open (decrypt + verify)', () => {
    openEnvelope(b, sealed)
  })
})

describe('through mosquitto on loopback', () => {
  bench(
    'one message: seal + publish → receive + open (latency)',
    async () => {
      const t0 = performance.now()
      const got = new Promise<void>((resolve) => {
        waiting = () => {
          waiting = undefined
          resolve()
        }
      })
      await alice.publish(to, { type: 'app/ping', body: 1 })
      await got
      latencies.push(performance.now() - t0)
    },
    { iterations: 200, time: 0 },
  )

  bench(
    'burst of 200 messages, all delivered (throughput: 200 / mean)',
    async () => {
      pendingCount = 200
      const done = new Promise<void>((resolve) => {
        burstDone = resolve
      })
      const sends: Promise<void>[] = []
      for (let i = 0; i < 200; i++) sends.push(alice.publish(to, { type: 'app/n', body: i }))
      await Promise.all(sends)
      await done
      burstDone = undefined
    },
    { iterations: 5, time: 0 },
  )
})
