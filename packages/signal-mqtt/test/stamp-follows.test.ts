import { type Mosquitto, startMosquitto } from '@p2pd/testkit/mosquitto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InboundQueue } from '../src/inbound-queue.js'
import { bobPipeline, drained, firstContact } from './bob.js'
import { collect, node, settle, until } from './helpers.js'

// A first envelope to a peer leaves at once; its stamped copy follows once minted.
let broker: Mosquitto
beforeAll(async () => {
  broker = await startMosquitto()
})
afterAll(async () => {
  await broker.stop()
})

describe('first contact: published at once, the stamped copy follows', () => {
  it('publish() does not wait for the stamp', async () => {
    // 2^26 hashes: a minute of CPU, so a publish that waited for it would time out (5 s).
    const a = node([broker.url], { powBits: 26 })
    const b = node([broker.url], { powBits: 26 })
    await Promise.all([a.start(), b.start()])
    try {
      const atB = collect(b)
      await a.publish({ nodeId: b.nodeId, signal: [0] }, { type: 'app/first', body: 1 })
      expect(a.metrics.published).toBe(1)
      expect(a.metrics.stampsMinted).toBe(0)
      await until(() => atB.length === 1, 5_000, 'the unstamped first envelope')
      // Bob writes back: Alice's stamp is not needed any more and is given up.
      await b.publish({ nodeId: a.nodeId, signal: [0] }, { type: 'app/reply', body: 2 })
      await until(() => a.metrics.stampsSkipped === 1, 5_000, 'the stamp given up')
      expect(a.metrics.stampsMinted).toBe(0)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  }, 20_000)

  it('the stamped copy arrives too; the envelope is opened once', async () => {
    const a = node([broker.url], { powBits: 8 })
    const b = node([broker.url], { powBits: 8 })
    await Promise.all([a.start(), b.start()])
    try {
      const atB = collect(b)
      await a.publish({ nodeId: b.nodeId, signal: [0] }, { type: 'app/first', body: 1 })
      await until(() => b.metrics.received === 2, 5_000, 'the stamped copy')
      await until(() => atB.length === 1, 5_000, 'the message')
      await settle(100)
      expect(a.metrics.stampsMinted).toBe(1)
      expect(b.metrics.opened).toBe(1)
      expect(atB).toHaveLength(1)
      // Dropped as a copy of the opened envelope — or, when the unstamped one still waited
      // to be opened, it moved that one to the stamped lane.
      expect(b.metrics.dropped.replayed + b.metrics.stamped).toBe(1)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  }, 20_000)
})

describe('InboundQueue: a stamped copy of a waiting unstamped envelope', () => {
  const pipeline = (stampedBurst: number) =>
    bobPipeline({ rate: 1, burst: 100 }, { rate: 1, burst: stampedBurst }).p

  it('moves it ahead of the strangers, opened once; a bad stamp moves nothing', async () => {
    const p = pipeline(5)
    const order: string[] = []
    const q = new InboundQueue(p, (m) => order.push(String(m.signal.message.body)), {
      maxPeerPending: 4,
      maxStrangerPending: 8,
      maxStampedPending: 4,
      sliceMs: 1,
    })
    const eve = [0, 1, 2].map((k) => firstContact(`eve${k}`))
    for (const e of eve) q.push(e.raw)
    const carol = firstContact('carol')
    q.push(carol.raw)
    // A replay of Carol's envelope with someone else's stamp neither moves nor drops it.
    q.push(carol.raw, undefined, eve[0]?.pow)
    expect(q.pending).toBe(4)
    q.push(carol.raw, undefined, carol.pow)
    expect(q.pending).toBe(4)
    await drained(q)
    expect(order).toEqual(['carol', 'eve0', 'eve1', 'eve2'])
    expect(p.pairKeys.size).toBe(0)
    q.close()
  })

  it('leaves it where it waits when the stamped budget is spent', async () => {
    const p = pipeline(0)
    const order: string[] = []
    const q = new InboundQueue(p, (m) => order.push(String(m.signal.message.body)))
    const eve = firstContact('eve')
    const carol = firstContact('carol')
    q.push(eve.raw)
    q.push(carol.raw)
    q.push(carol.raw, undefined, carol.pow)
    await drained(q)
    expect(order).toEqual(['eve', 'carol'])
    q.close()
  })
})
