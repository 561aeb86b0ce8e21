import { monitorEventLoopDelay } from 'node:perf_hooks'
import { floodTopic, forgeEnvelopes } from '@p2pd/testkit/forged-envelopes'
import { type Mosquitto, startMosquitto } from '@p2pd/testkit/mosquitto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIGNALING_DEFAULTS } from '../src/index.js'
import { node, until } from './helpers.js'

// One real mosquitto on loopback for this file.
let broker: Mosquitto
beforeAll(async () => {
  broker = await startMosquitto()
})
afterAll(async () => {
  await broker.stop()
})

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN

describe('MqttSignaling under a forged flood (mosquitto)', () => {
  it('keeps delivering a known peer’s messages, about as fast as without the flood', async () => {
    const a = node([broker.url])
    const b = node([broker.url])
    await Promise.all([a.start(), b.start()])
    try {
      // Arrival times, taken by a handler of Bob's as each message is delivered.
      const arrived = new Map<number, number>()
      b.subscribe((m) => arrived.set(m.message.body as number, performance.now()))
      // Latency counts from when the message was due, so a blocked event loop shows up in it.
      const send = async (n: number, due = performance.now()) => {
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())))
        await a.publish({ nodeId: b.nodeId, signal: [0] }, { type: 'app/n', body: n })
        await until(() => arrived.has(n), 20_000, `message ${n}`)
        return (arrived.get(n) as number) - due
      }
      // First contact (no flood yet): Bob learns Alice's pair key from it.
      await send(-1)
      const quiet: number[] = []
      for (let n = 0; n < 8; n++) quiet.push(await send(n))

      const envelopes = forgeEnvelopes(b.nodeId, 3_000)
      const floodMs = 1_500
      const opened0 = b.metrics.opened
      const lag = monitorEventLoopDelay({ resolution: 10 })
      lag.enable()
      const started = performance.now()
      const flooding = floodTopic(broker.port, b.topic, envelopes, floodMs)
      const loud: number[] = []
      for (let n = 100; n < 108; n++) loud.push(await send(n, started + 150 * (n - 99)))
      await flooding
      await until(() => b.metrics.received >= 3_000 + 17, 20_000, 'the flood to arrive')
      const seconds = (performance.now() - started) / 1000
      lag.disable()

      // Every legitimate message got through, close to the quiet latency.
      expect(median(loud)).toBeLessThan(median(quiet) + 500)
      // Opening is sliced: the event loop never stalled for long.
      expect(lag.max / 1e6).toBeLessThan(250)
      // The forgeries (each a full open: key agreement, decryption, signature) were refused,
      // mostly before decryption, and the expensive work was
      // bounded by the strangers' budget (burst + rate × duration, plus what peers sent).
      const d = b.metrics.dropped
      expect(d.globalRateLimited + d.overloaded).toBeGreaterThan(2_000)
      const { rate, burst } = SIGNALING_DEFAULTS.globalRate
      expect(b.metrics.opened - opened0).toBeLessThanOrEqual(burst + rate * seconds + 16)
      expect(b.metrics.fromPeers).toBeGreaterThanOrEqual(16)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  }, 60_000)

  it('lets first contacts through: strangers’ first envelopes are followed by a stamped copy', async () => {
    const b = node([broker.url])
    // Fresh senders that never wrote to Bob; a third wait quietly for the baseline.
    const strangers = Array.from({ length: 9 }, () => node([broker.url]))
    await Promise.all([b.start(), ...strangers.map((s) => s.start())])
    try {
      const arrived = new Map<string, number>()
      b.subscribe((m) => arrived.set(m.from, performance.now()))
      const firstContact = async (s: (typeof strangers)[number], due: number) => {
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())))
        await s.publish({ nodeId: b.nodeId, signal: [0] }, { type: 'app/hello', body: null })
        await until(() => arrived.has(s.nodeId), 5_000, 'a first contact').catch(() => {})
        const at = arrived.get(s.nodeId)
        return at === undefined ? undefined : at - due
      }
      const quiet: number[] = []
      for (const s of strangers.slice(0, 3)) quiet.push((await firstContact(s, 0)) ?? Infinity)

      const envelopes = forgeEnvelopes(b.nodeId, 3_000)
      const started = performance.now()
      const flooding = floodTopic(broker.port, b.topic, envelopes, 1_500)
      const loud = await Promise.all(
        strangers.slice(3).map((s, k) => firstContact(s, started + 100 + 220 * k)),
      )
      await flooding
      const ok = loud.filter((t): t is number => t !== undefined)
      expect(ok).toHaveLength(6)
      expect(median(ok)).toBeLessThan(median(quiet) + 1_000)
      // Each first contact went out at once and again with its stamp (which copy got in under
      // the flood varies; stamp-follows.test.ts checks that a stamped copy moves ahead).
      await until(() => strangers.every((s) => s.metrics.stampsMinted === 1), 10_000, 'stamps')
      // The flood itself was held to the unstamped budget.
      expect(b.metrics.dropped.globalRateLimited + b.metrics.dropped.overloaded).toBeGreaterThan(
        2_000,
      )
    } finally {
      await Promise.all([b.close(), ...strangers.map((s) => s.close())])
    }
  }, 60_000)
})
