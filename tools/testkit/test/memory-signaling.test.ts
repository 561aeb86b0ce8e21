import {
  Deadline,
  isP2pdError,
  MemorySignalingHub,
  TimeoutError,
  waitForSignal,
} from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { signalingCompliance } from '../src/signaling-compliance.js'

signalingCompliance('MemorySignalingHub', async () => {
  const hub = new MemorySignalingHub()
  const a = hub.connect('node-a')
  const b = hub.connect('node-b')
  await a.start()
  await b.start()
  return {
    a,
    b,
    aId: 'node-a',
    bId: 'node-b',
    dispose: async () => {
      await a.close()
      await b.close()
    },
  }
})

describe('MemorySignalingHub', () => {
  it('refuses two endpoints with one node id, and publishing before start', async () => {
    const hub = new MemorySignalingHub()
    const a = hub.connect('same')
    await a.start()
    const b = hub.connect('same')
    await expect(b.start()).rejects.toSatisfy((e) => isP2pdError(e, 'SIGNALING_DUPLICATE'))
    const c = hub.connect('c')
    await expect(c.publish({ nodeId: 'same' }, { type: 'x', body: 1 })).rejects.toSatisfy((e) =>
      isP2pdError(e, 'SIGNALING_NOT_STARTED'),
    )
    await a.close()
  })

  it('applies its latency', async () => {
    const hub = new MemorySignalingHub({ latencyMs: 40 })
    const a = hub.connect('a')
    const b = hub.connect('b')
    await a.start()
    await b.start()
    const t0 = performance.now()
    const got = new Promise<number>((r) => b.subscribe(() => r(performance.now() - t0)))
    await a.publish({ nodeId: 'b' }, { type: 'x', body: 1 })
    expect(await got).toBeGreaterThanOrEqual(38)
    await a.close()
    await b.close()
  })
})

describe('waitForSignal', () => {
  it('resolves on the first matching message and rejects typed on deadline', async () => {
    const hub = new MemorySignalingHub()
    const a = hub.connect('a')
    const b = hub.connect('b')
    await a.start()
    await b.start()
    const wanted = waitForSignal(b, (m) => m.message.type === 'yes', AbortSignal.timeout(2000))
    await a.publish({ nodeId: 'b' }, { type: 'no', body: 0 })
    await a.publish({ nodeId: 'b' }, { type: 'yes', body: 1 })
    expect((await wanted).message.body).toBe(1)
    await expect(waitForSignal(b, () => false, new Deadline(30).signal)).rejects.toBeInstanceOf(
      TimeoutError,
    )
    await a.close()
    await b.close()
  })
})
