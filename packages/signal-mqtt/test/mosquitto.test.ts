import { generateIdentity } from '@p2pd/identity'
import { type Mosquitto, startMosquitto } from '@p2pd/testkit/mosquitto'
import { signalingCompliance } from '@p2pd/testkit/signaling-compliance'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type MqttSignaling, newMessageId, sealEnvelope } from '../src/index.js'
import { collect, node, rawClient, settle, sniff, until } from './helpers.js'

// Real mosquitto brokers on loopback, started for this file. A missing mosquitto fails here.
let brokers: Mosquitto[] = []
let urls: string[] = []

beforeAll(async () => {
  brokers = await Promise.all([0, 1, 2].map(() => startMosquitto()))
  urls = brokers.map((b) => b.url)
})
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()))
})

signalingCompliance('MqttSignaling over mosquitto', async () => {
  const a = node(urls.slice(0, 2))
  const b = node(urls.slice(0, 2))
  await Promise.all([a.start(), b.start()])
  return {
    a,
    b,
    aId: a.nodeId,
    bId: b.nodeId,
    dispose: async () => {
      await Promise.all([a.close(), b.close()])
    },
  }
})

async function pair(
  aConnect: number[],
  bConnect: number[],
  over: Parameters<typeof node>[1] = {},
): Promise<[MqttSignaling, MqttSignaling]> {
  const a = node(urls, { connectTo: aConnect, quorum: aConnect.length, ...over })
  const b = node(urls, { connectTo: bConnect, quorum: bConnect.length, ...over })
  await Promise.all([a.start(), b.start()])
  return [a, b]
}

describe('MqttSignaling over mosquitto', () => {
  it('speaks MQTT 5 to mosquitto and reports each broker', async () => {
    const [a, b] = await pair([0, 1, 2], [0])
    try {
      expect(a.offsets).toEqual([0, 1, 2])
      const h = a.health()
      expect(h.map((x) => x.protocolVersion)).toEqual([5, 5, 5])
      expect(h.every((x) => x.state === 'connected' && x.subscribed && x.connects === 1)).toBe(true)
      expect(h[0]?.rttMs).toBeGreaterThan(0)
      expect(a.topic).toBe(`p2pd/v1/${a.nodeId}`)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('two nodes on disjoint broker sets sharing one broker still talk, both ways', async () => {
    const [a, b] = await pair([0, 1], [1, 2])
    try {
      const atB = collect(b)
      const atA = collect(a)
      await a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'app/hi', body: 1 })
      await b.publish({ nodeId: a.nodeId, signal: a.offsets }, { type: 'app/hi', body: 2 })
      // Without the recipient's offsets we fall back to our own brokers: shared 1 carries it.
      await a.publish({ nodeId: b.nodeId }, { type: 'app/hi', body: 3 })
      await until(() => atB.length === 2 && atA.length === 1, 5_000, 'messages')
      expect(atB.map((m) => m.message.body)).toEqual([1, 3])
      expect(atA[0]?.from).toBe(b.nodeId)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('one broker killed mid-test: messages still flow through the others', async () => {
    const [a, b] = await pair([0, 1, 2], [0, 1, 2])
    const victim = brokers[0] as Mosquitto
    try {
      const atB = collect(b)
      await a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'app/n', body: 0 })
      await until(() => atB.length === 1, 5_000, 'first message')
      await victim.kill()
      await until(() => !a.offsets.includes(0) && !b.offsets.includes(0), 5_000, 'loss noticed')
      for (let i = 1; i <= 5; i++) {
        // Stale offsets on purpose: the sender skips the dead broker.
        await a.publish({ nodeId: b.nodeId, signal: [0, 1, 2] }, { type: 'app/n', body: i })
      }
      await until(() => atB.length === 6, 5_000, 'messages after the kill')
      expect(atB.map((m) => m.message.body)).toEqual([0, 1, 2, 3, 4, 5])
      expect(a.health()[0]?.state).not.toBe('connected')
      expect(a.health()[0]?.failures).toBeGreaterThan(0)
    } finally {
      await Promise.all([a.close(), b.close()])
      await victim.restart()
    }
  })

  it('reconnects after a mosquitto restart on the same port', async () => {
    const [a, b] = await pair([2], [2])
    const broker = brokers[2] as Mosquitto
    try {
      const atB = collect(b)
      await a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'app/n', body: 1 })
      await until(() => atB.length === 1, 5_000, 'before restart')
      await broker.restart()
      await until(
        () =>
          a.health()[0]?.connects === 2 && b.health()[0]?.connects === 2 && b.offsets.length === 1,
        10_000,
        'reconnect',
      )
      await a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'app/n', body: 2 })
      await until(() => atB.length === 2, 5_000, 'after restart')
      expect(atB[1]?.message.body).toBe(2)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('drops forged, replayed, expired and tampered messages, and counts them', async () => {
    // No stamps: a first envelope's stamped copy would be one more message to count.
    const [a, b] = await pair([1], [1], { powBits: 0 })
    const eve = generateIdentity()
    const attacker = await rawClient(urls[1] as string)
    try {
      const seen = await sniff(attacker, b.topic)
      const atB = collect(b)
      await a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'app/n', body: 'real' })
      await until(() => atB.length === 1 && seen.length === 1, 5_000, 'the real message')
      const original = seen[0] as Buffer

      // Replayed: the exact bytes again.
      await attacker.publishAsync(b.topic, original, { qos: 1 })
      // Tampered: one bit flipped, at the start, in the middle and in the tag.
      for (const at of [5, original.length >> 1, original.length - 1]) {
        const t = Buffer.from(original)
        t[at] = (t[at] as number) ^ 0x01
        await attacker.publishAsync(b.topic, t, { qos: 1 })
      }
      // Forged: Eve seals a payload claiming to be Alice.
      const forged = sealEnvelope(eve, b.nodeId, {
        v: 1,
        id: newMessageId(),
        ts: Date.now(),
        from: a.nodeId,
        sid: '0123456789abcdef',
        seq: 0,
        type: 'reverse/request',
        body: { token: '00'.repeat(16), address: 'x' },
      })
      await attacker.publishAsync(b.topic, Buffer.from(forged), { qos: 1 })
      // Not for Bob: sealed to someone else, published on Bob's topic.
      const elsewhere = sealEnvelope(eve, generateIdentity().nodeId, {
        v: 1,
        id: newMessageId(),
        ts: Date.now(),
        from: eve.nodeId,
        sid: '0123456789abcdef',
        seq: 0,
        type: 'app/n',
        body: 0,
      })
      await attacker.publishAsync(b.topic, Buffer.from(elsewhere), { qos: 1 })
      await until(() => b.metrics.received === 7, 5_000, 'attack messages')

      // Expired: a sender whose clock is 5 minutes ahead. No stamps either: its stamped copy
      // would be a ninth message, and arriving with the first it made \`received === 8\` never
      // hold (CI, loaded: timed out waiting).
      const skewed = node(urls, {
        connectTo: [1],
        clock: { now: () => Date.now() + 300_000, offset: 300_000, uncertainty: 0 },
        powBits: 0,
      })
      await skewed.start()
      await skewed.publish({ nodeId: b.nodeId, signal: [1] }, { type: 'app/n', body: 'late' })
      await until(() => b.metrics.received === 8, 5_000, 'skewed message')
      await skewed.close()
      await settle(100)

      expect(atB.map((m) => m.message.body)).toEqual(['real'])
      const d = b.metrics.dropped
      expect(d.replayed).toBe(1)
      // 3 flips + not for us; the flips that keep the ephemeral key are refused unopened.
      expect(d.undecryptable + d.malformed + d.badSignature + d.reusedKey).toBe(4)
      expect(d.reusedKey).toBe(2)
      expect(d.senderMismatch).toBe(1)
      expect(d.expired).toBe(1)
      expect(b.metrics.delivered).toBe(1)
    } finally {
      await attacker.endAsync()
      await Promise.all([a.close(), b.close()])
    }
  })

  it('delivers a burst of 1,000 messages exactly once each (rate limits raised)', async () => {
    const limits = {
      perSenderRate: { rate: 10_000, burst: 10_000 },
      globalRate: { rate: 10_000, burst: 10_000 },
      publishTimeoutMs: 30_000,
      // No stamps: the stamped copies of the first envelopes would be more copies to count.
      powBits: 0,
    }
    const [a, b] = await pair([0, 1], [0, 1], limits)
    try {
      const atB = collect(b)
      const sends: Promise<void>[] = []
      for (let i = 0; i < 1_000; i++) {
        sends.push(a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'app/n', body: i }))
      }
      await Promise.all(sends)
      await until(() => b.metrics.received === 2_000, 40_000, 'every copy')
      // Opening is sliced across event-loop turns: wait for the queue to drain.
      await until(() => atB.length === 1_000, 40_000, 'every message opened')
      await settle(100)
      const bodies = atB.map((m) => m.message.body as number)
      expect(bodies).toHaveLength(1_000)
      expect(new Set(bodies).size).toBe(1_000)
      expect(b.metrics.dropped.replayed).toBe(1_000) // the redundant copies
      expect(a.metrics.published).toBe(1_000)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  }, 60_000)
})
