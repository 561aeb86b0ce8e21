import type { InboundSignal, Signaling } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'

/** Builds two started endpoints that can reach each other, and how to dispose of them. */
export interface SignalingPair {
  a: Signaling
  b: Signaling
  aId: string
  bId: string
  dispose(): Promise<void>
}

function nextMessage(s: Signaling, timeoutMs = 5000): Promise<InboundSignal> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error('no message within deadline'))
    }, timeoutMs)
    const off = s.subscribe((m) => {
      clearTimeout(timer)
      off()
      resolve(m)
    })
  })
}

/**
 * The behaviour every `Signaling` implementation must have. Call it inside a test file with a
 * factory that returns two connected, started endpoints. Messages use `app/…` types: the
 * namespace every backend must carry for user messages (a backend may refuse unknown types
 * outside the built-in strategy namespaces).
 */
export function signalingCompliance(name: string, makePair: () => Promise<SignalingPair>): void {
  describe(`Signaling compliance: ${name}`, () => {
    let pair: SignalingPair | undefined
    afterEach(async () => {
      await pair?.dispose()
      pair = undefined
    })

    it('delivers a message with the verified sender id', async () => {
      pair = await makePair()
      const got = nextMessage(pair.b)
      await pair.a.publish(
        { nodeId: pair.bId, signal: pair.b.offsets },
        { type: 'app/test', body: { n: 1 } },
      )
      const m = await got
      expect(m.from).toBe(pair.aId)
      expect(m.message).toEqual({ type: 'app/test', body: { n: 1 } })
      expect(typeof m.receivedAt).toBe('number')
    })

    it('delivers both ways, in order', async () => {
      pair = await makePair()
      const { a, b } = pair
      const seen: number[] = []
      const done = new Promise<void>((resolve) => {
        b.subscribe((m) => {
          seen.push((m.message.body as { i: number }).i)
          if (seen.length === 5) resolve()
        })
      })
      for (let i = 0; i < 5; i++) {
        await a.publish({ nodeId: pair.bId, signal: b.offsets }, { type: 'app/seq', body: { i } })
      }
      await done
      expect(seen).toEqual([0, 1, 2, 3, 4])
      const back = nextMessage(a)
      await b.publish({ nodeId: pair.aId, signal: a.offsets }, { type: 'app/back', body: null })
      expect((await back).from).toBe(pair.bId)
    })

    it('stops calling a handler once unsubscribed', async () => {
      pair = await makePair()
      let calls = 0
      const off = pair.b.subscribe(() => calls++)
      off()
      const got = nextMessage(pair.b)
      await pair.a.publish({ nodeId: pair.bId, signal: pair.b.offsets }, { type: 'app/x', body: 1 })
      await got
      expect(calls).toBe(0)
    })

    it('rejects publish with an aborted signal', async () => {
      pair = await makePair()
      const ctrl = new AbortController()
      ctrl.abort()
      await expect(
        pair.a.publish(
          { nodeId: pair.bId, signal: pair.b.offsets },
          { type: 'app/x', body: 1 },
          { signal: ctrl.signal },
        ),
      ).rejects.toThrow()
    })

    it('keeps delivering to the other handlers when one throws', async () => {
      pair = await makePair()
      pair.b.subscribe(() => {
        throw new Error('handler bug')
      })
      const got = nextMessage(pair.b)
      await pair.a.publish({ nodeId: pair.bId, signal: pair.b.offsets }, { type: 'app/x', body: 2 })
      expect((await got).message.body).toBe(2)
    })

    it('rejects publish after close, and close is idempotent', async () => {
      pair = await makePair()
      await pair.a.close()
      await pair.a.close()
      await expect(
        pair.a.publish({ nodeId: pair.bId, signal: pair.b.offsets }, { type: 'app/x', body: 1 }),
      ).rejects.toThrow()
    })

    it('exposes the broker offsets it listens on', async () => {
      pair = await makePair()
      expect(pair.a.offsets.length).toBeGreaterThan(0)
    })
  })
}
