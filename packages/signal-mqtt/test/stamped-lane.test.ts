import { generateIdentity } from '@p2pd/identity'
import { describe, expect, it } from 'vitest'
import { InboundQueue } from '../src/inbound-queue.js'
import { PairKeys } from '../src/pair-keys.js'
import { bobPipeline, drained, firstContact } from './bob.js'

describe('stamped strangers', () => {
  it('get through when the unstamped strangers’ budget is spent', () => {
    const { p, metrics } = bobPipeline({ rate: 1, burst: 1 }, { rate: 1, burst: 1 })
    expect(p.accept(firstContact('eve', false).raw)).toBeDefined()
    expect(p.accept(firstContact('eve', false).raw)).toBeUndefined()
    expect(metrics.dropped.globalRateLimited).toBe(1)
    const carol = firstContact('carol')
    expect(p.accept(carol.raw, undefined, { pow: carol.pow })?.signal.message.body).toBe('carol')
    expect(metrics.stamped).toBe(1)
  })

  it('count only with a stamp for that very envelope', () => {
    const { p, metrics } = bobPipeline({ rate: 1, burst: 0 }, { rate: 1, burst: 5 })
    const other = firstContact('other')
    const mallory = firstContact('mallory', false)
    // Another envelope's stamp, garbage, or none: all go the unstamped way (budget 0 here).
    for (const pow of [other.pow, 'ff'.repeat(8), 'not a stamp', undefined]) {
      expect(p.accept(mallory.raw, undefined, { pow })).toBeUndefined()
    }
    expect(metrics.stamped).toBe(0)
    expect(metrics.dropped.globalRateLimited).toBe(4)
  })

  it('spend the unstamped budget once theirs is spent', () => {
    const { p, metrics } = bobPipeline({ rate: 1, burst: 1 }, { rate: 1, burst: 1 })
    const [x, y, z] = ['x', 'y', 'z'].map((b) => firstContact(b))
    expect(p.accept(x!.raw, undefined, { pow: x!.pow })).toBeDefined()
    expect(p.accept(y!.raw, undefined, { pow: y!.pow })).toBeDefined()
    expect(p.accept(z!.raw, undefined, { pow: z!.pow })).toBeUndefined()
    expect(metrics.stamped).toBe(3)
    expect(metrics.dropped.globalRateLimited).toBe(1)
  })

  it('wait ahead of unstamped strangers, behind nobody else; copies spend no budget', async () => {
    const { p, metrics } = bobPipeline({ rate: 1, burst: 100 }, { rate: 1, burst: 2 })
    const order: string[] = []
    const q = new InboundQueue(p, (m) => order.push(String(m.signal.message.body)), {
      maxPeerPending: 4,
      maxStrangerPending: 8,
      maxStampedPending: 4,
      sliceMs: 1,
    })
    for (let k = 0; k < 3; k++) q.push(firstContact(`eve${k}`, false).raw)
    const carol = firstContact('carol')
    q.push(carol.raw, undefined, carol.pow)
    // Copies of Carol's waiting envelope (a flooder replaying it) must not eat the budget…
    for (let k = 0; k < 5; k++) q.push(carol.raw, undefined, carol.pow)
    // …so Dave's stamped envelope still gets the second token.
    const dave = firstContact('dave')
    q.push(dave.raw, undefined, dave.pow)
    expect(metrics.dropped.replayed).toBe(5)
    await drained(q)
    expect(order).toEqual(['carol', 'dave', 'eve0', 'eve1', 'eve2'])
    q.close()
  })
})

describe('PairKeys.wantsStamp', () => {
  it('stamps the first three envelopes to a peer that has not written to us', () => {
    const keys = new PairKeys()
    const peer = generateIdentity().nodeId
    keys.keyFor(peer)
    const stamped = [0, 1, 2, 3].filter(() => {
      const wants = keys.wantsStamp(peer)
      if (wants) keys.stamped(peer)
      return wants
    })
    expect(stamped).toHaveLength(3)
    const other = generateIdentity().nodeId
    expect(keys.wantsStamp(other)).toBe(true)
    // Once it wrote to us (a verified envelope with its key), it knows ours: no stamp.
    keys.learn(other, 'ab'.repeat(32))
    expect(keys.wantsStamp(other)).toBe(false)
  })
})
