import { MemorySignalingHub, type Signaling } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, type P2pdNode, reverse } from '../src/index.js'

const started: P2pdNode[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

/** Signaling that silently loses the first `reverse/request` it is asked to publish. */
function losingFirstRequest(inner: Signaling, lost: { count: number }): Signaling {
  return {
    get offsets() {
      return inner.offsets
    },
    start: (o) => inner.start(o),
    subscribe: (h) => inner.subscribe(h),
    close: () => inner.close(),
    async publish(to, message, options) {
      if (message.type === 'reverse/request' && lost.count === 0) {
        lost.count++
        return
      }
      return inner.publish(to, message, options)
    },
  }
}

describe('reverse: a lost request', () => {
  it('is asked again after resendMs, with the same token', async () => {
    const hub = new MemorySignalingHub()
    const lost = { count: 0 }
    const mk = (lose: boolean) =>
      createNode({
        signaling: (id) => {
          const s = hub.connect(id.nodeId)
          return lose ? losingFirstRequest(s, lost) : s
        },
        strategies: [reverse({ resendMs: 300 })],
        listen: { host: '127.0.0.1' },
        networkCheckMs: 0,
      })
    const a = mk(true)
    const b = mk(false)
    started.push(a, b)
    await Promise.all([a.start(), b.start()])
    const t0 = performance.now()
    const pipe = await a.connect(b.addressText, { strategies: [reverse({ resendMs: 300 })] })
    expect(lost.count).toBe(1)
    expect(pipe.remotePeer).toBe(b.nodeId)
    const ms = performance.now() - t0
    expect(ms).toBeGreaterThanOrEqual(290)
    expect(ms).toBeLessThan(2_000)
    await pipe.close()
  })

  it('is not asked again with resendMs 0', async () => {
    const hub = new MemorySignalingHub()
    const lost = { count: 0 }
    const a = createNode({
      signaling: (id) => losingFirstRequest(hub.connect(id.nodeId), lost),
      strategies: [reverse({ resendMs: 0 })],
      listen: { host: '127.0.0.1' },
      networkCheckMs: 0,
    })
    const b = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      strategies: [reverse()],
      listen: { host: '127.0.0.1' },
      networkCheckMs: 0,
    })
    started.push(a, b)
    await Promise.all([a.start(), b.start()])
    await expect(
      a.connect(b.addressText, { strategies: [reverse({ resendMs: 0 })], timeoutMs: 1_000 }),
    ).rejects.toBeDefined()
  })
})
