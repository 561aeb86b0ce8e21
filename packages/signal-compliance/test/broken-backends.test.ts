import {
  type InboundSignal,
  isP2pdError,
  MemorySignalingHub,
  type Signaling,
} from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { type SignalingPair, signalingCompliance } from '../src/index.js'

interface Case {
  title: string
  body: () => Promise<void>
}

/** Registers the suite with a recording runner and runs every case, reporting each outcome. */
async function runSuite(
  makePair: () => Promise<SignalingPair>,
): Promise<Map<string, 'passed' | string>> {
  const cases: Case[] = []
  const cleanups: Array<() => Promise<void>> = []
  signalingCompliance(
    'under test',
    makePair,
    {
      describe: (_name, body) => body(),
      it: (title, body) => cases.push({ title, body }),
      afterEach: (body) => cleanups.push(body),
    },
    { messageTimeoutMs: 300, caseTimeoutMs: 2_000 },
  )
  const outcome = new Map<string, 'passed' | string>()
  for (const c of cases) {
    try {
      await c.body()
      outcome.set(c.title, 'passed')
    } catch (err) {
      outcome.set(c.title, isP2pdError(err) ? err.code : String(err))
    } finally {
      for (const cleanup of cleanups) await cleanup()
    }
  }
  return outcome
}

/** A pair from the memory hub, with `b` passed through `wrap`. */
function pairWith(wrap: (b: Signaling) => Signaling): () => Promise<SignalingPair> {
  return async () => {
    const hub = new MemorySignalingHub()
    const a = hub.connect('node-a')
    const inner = hub.connect('node-b')
    await Promise.all([a.start(), inner.start()])
    const b = wrap(inner)
    const dispose = async () => void (await Promise.all([a.close(), inner.close()]))
    return { a, b, aId: 'node-a', bId: 'node-b', dispose }
  }
}

describe('the suite catches broken backends', () => {
  it('passes the reference backend on every case', async () => {
    const outcome = await runSuite(pairWith((b) => b))
    expect(outcome.size).toBe(7)
    expect([...outcome.values()]).toEqual(Array(7).fill('passed'))
  })

  it('fails a backend that reports the wrong sender', async () => {
    const outcome = await runSuite(
      pairWith((b) => ({
        start: (o) => b.start(o),
        publish: (to, m, o) => b.publish(to, m, o),
        subscribe: (h) => b.subscribe((m: InboundSignal) => h({ ...m, from: 'someone-else' })),
        get offsets() {
          return b.offsets
        },
        close: () => b.close(),
      })),
    )
    expect(outcome.get('delivers a message with the verified sender id')).toBe(
      'SIGNAL_COMPLIANCE_FAILED',
    )
  })

  it('fails a backend that delivers nothing, by deadline rather than by hanging', async () => {
    const outcome = await runSuite(
      pairWith((b) => ({
        start: (o) => b.start(o),
        publish: (to, m, o) => b.publish(to, m, o),
        subscribe: () => () => {},
        get offsets() {
          return b.offsets
        },
        close: () => b.close(),
      })),
    )
    expect(outcome.get('delivers a message with the verified sender id')).toBe('TIMEOUT')
    expect(outcome.get('exposes the broker offsets it listens on')).toBe('passed')
  })

  it('fails a backend that ignores an aborted signal', async () => {
    const outcome = await runSuite(async () => {
      const pair = await pairWith((b) => b)()
      const a = pair.a
      pair.a = {
        ...a,
        publish: (to, m) => a.publish(to, m),
        subscribe: a.subscribe.bind(a),
        start: a.start.bind(a),
        close: a.close.bind(a),
        offsets: a.offsets,
      }
      return pair
    })
    expect(outcome.get('rejects publish with an aborted signal')).toBe('SIGNAL_COMPLIANCE_FAILED')
  })
})
