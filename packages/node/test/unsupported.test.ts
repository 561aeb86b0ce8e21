import { MemorySignalingHub, type Strategy, waitForSignal } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectError, createNode, direct, type P2pdNode, reverse } from '../src/index.js'
import { isUnsupportedRequest, UNSUPPORTED, UnsupportedResponder } from '../src/unsupported.js'

const nodes: P2pdNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** A strategy the peer does not run: asks with `ping/request` and waits for `ping/reply`. */
const ping = (): Strategy => ({
  name: 'ping',
  canTry: () => true,
  async connect(ctx, signal) {
    const reply = waitForSignal(
      ctx.signaling,
      (m) => m.from === ctx.remote.nodeId && m.message.type === 'ping/reply',
      signal,
    )
    await ctx.signaling.publish(
      { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal },
      { type: 'ping/request', body: { address: ctx.localText } },
      { signal },
    )
    await reply
    throw new Error('never here')
  },
})

describe('a strategy the peer does not run', () => {
  it('fails fast with NODE_STRATEGY_UNSUPPORTED naming the strategy, not at its deadline', async () => {
    const hub = new MemorySignalingHub()
    const mk = () => {
      const n = createNode({
        signaling: (id) => hub.connect(id.nodeId),
        listen: { host: '127.0.0.1' },
        stageTimeoutMs: { ping: 20_000 },
      })
      nodes.push(n)
      return n
    }
    const a = mk()
    const b = mk()
    await Promise.all([a.start(), b.start()])
    const t0 = performance.now()
    const err = await a.connect(b.addressText, { strategies: [ping()] }).catch((e) => e)
    const took = performance.now() - t0
    expect(err).toBeInstanceOf(ConnectError)
    expect((err as Error).message).toMatch(/does not take ping/)
    expect((err as ConnectError).report.stages[0]?.error?.code).toBe('NODE_STRATEGY_UNSUPPORTED')
    expect(took).toBeLessThan(1_000)

    // The peer's own strategies still work on the same pair.
    const pipe = await a.connect(b.addressText, { strategies: [ping(), direct()] })
    expect(pipe.strategy).toBe('direct')
  })

  it('answers only requests of strategies it does not know, never replies or node messages', () => {
    const mine = [
      direct(),
      reverse(),
      { name: 'punch', accepts: ['punch/offer'] } as unknown as Strategy,
    ]
    expect(isUnsupportedRequest('ping/request', mine)).toBe(true)
    expect(isUnsupportedRequest('punch/answer', mine)).toBe(false) // a late reply of ours
    expect(isUnsupportedRequest('reverse/request', mine)).toBe(false)
    expect(isUnsupportedRequest(UNSUPPORTED, mine)).toBe(false) // no ping-pong
    expect(isUnsupportedRequest('no-slash', mine)).toBe(false)
    expect(isUnsupportedRequest(`${'x'.repeat(40)}/y`, mine)).toBe(false)
  })

  it('replies at most once per sender and type per window, with bounded memory', () => {
    const r = new UnsupportedResponder(10_000, 3)
    expect(r.shouldAnswer('a', 'ping/request', 0)).toBe(true)
    expect(r.shouldAnswer('a', 'ping/request', 5_000)).toBe(false)
    expect(r.shouldAnswer('a', 'ping/request', 10_001)).toBe(true)
    for (const id of ['b', 'c', 'd', 'e'])
      expect(r.shouldAnswer(id, 'ping/request', 10_002)).toBe(true)
    // 'a' was evicted by the bound of 3 entries, so it may be answered again.
    expect(r.shouldAnswer('a', 'ping/request', 10_003)).toBe(true)
  })
})
