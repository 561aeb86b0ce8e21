import {
  Deadline,
  type InboundSignal,
  type Signaling,
  waitForSignal,
  withDeadline,
} from '@p2pd/interface'
import { check, checkEqual, checkRejects } from './check.js'

/** Two started endpoints that can reach each other, and how to dispose of them. */
export interface SignalingPair {
  a: Signaling
  b: Signaling
  /** The node ID `b` sees as the sender of `a`'s messages. */
  aId: string
  /** The node ID `a` sees as the sender of `b`'s messages. */
  bId: string
  /** Closes both endpoints and whatever the factory started (brokers, hubs). */
  dispose(): Promise<void>
}

/**
 * The three functions of your test runner the suite registers its cases with. vitest, jest,
 * mocha and `node:test` all have them under these names.
 */
export interface TestFunctions {
  describe: (name: string, body: () => void) => unknown
  it: (name: string, body: () => Promise<void>) => unknown
  afterEach: (body: () => Promise<void>) => unknown
}

/** Deadlines of the suite, for slow backends. */
export interface ComplianceOptions {
  /** How long a published message may take to arrive (default 5,000 ms). */
  messageTimeoutMs?: number
  /** How long one case may take, pair set-up included (default 20,000 ms). */
  caseTimeoutMs?: number
}

function nextMessage(s: Signaling, timeoutMs: number): Promise<InboundSignal> {
  const deadline = new Deadline(timeoutMs, undefined, 'waiting for a signaling message')
  return waitForSignal(s, () => true, deadline.signal).finally(() => deadline.dispose())
}

/**
 * Registers the behaviour every `Signaling` implementation must have as test cases. Call it
 * at the top level of a test file with a factory that returns two connected, started
 * endpoints (a fresh pair per case; the suite disposes it after the case) and your runner's
 * `describe`, `it` and `afterEach`. Messages use `app/…` types: the namespace every backend
 * must carry for user messages (a backend may refuse unknown types outside the built-in
 * strategy namespaces). Every case has a deadline, so a backend that hangs fails, not stalls.
 */
export function signalingCompliance(
  name: string,
  makePair: () => Promise<SignalingPair>,
  test: TestFunctions,
  options: ComplianceOptions = {},
): void {
  const messageMs = options.messageTimeoutMs ?? 5_000
  const caseMs = options.caseTimeoutMs ?? 20_000
  let pair: SignalingPair | undefined
  const fresh = async (): Promise<SignalingPair> => {
    pair = await makePair()
    return pair
  }
  const it = (title: string, body: () => Promise<void>) =>
    test.it(title, () => withDeadline(caseMs, undefined, body, `compliance case "${title}"`))

  test.describe(`Signaling compliance: ${name}`, () => {
    test.afterEach(async () => {
      const done = pair
      pair = undefined
      await done?.dispose()
    })

    it('delivers a message with the verified sender id', async () => {
      const { a, b, aId, bId } = await fresh()
      const got = nextMessage(b, messageMs)
      await a.publish({ nodeId: bId, signal: b.offsets }, { type: 'app/test', body: { n: 1 } })
      const m = await got
      checkEqual(m.from, aId, 'sender id of a delivered message')
      checkEqual(m.message, { type: 'app/test', body: { n: 1 } }, 'delivered message')
      check(typeof m.receivedAt === 'number', 'receivedAt is a number (ms since epoch)')
    })

    it('delivers both ways, in order', async () => {
      const { a, b, aId, bId } = await fresh()
      const seen: number[] = []
      const five = new Promise<void>((resolve) => {
        b.subscribe((m) => {
          seen.push((m.message.body as { i: number }).i)
          if (seen.length === 5) resolve()
        })
      })
      for (let i = 0; i < 5; i++) {
        await a.publish({ nodeId: bId, signal: b.offsets }, { type: 'app/seq', body: { i } })
      }
      const deadline = new Deadline(messageMs, undefined, 'five messages in order')
      try {
        await deadline.race(five)
      } finally {
        deadline.dispose()
      }
      checkEqual(seen, [0, 1, 2, 3, 4], 'order of five messages from one sender')
      const back = nextMessage(a, messageMs)
      await b.publish({ nodeId: aId, signal: a.offsets }, { type: 'app/back', body: null })
      checkEqual((await back).from, bId, 'sender id of the reply')
    })

    it('stops calling a handler once unsubscribed', async () => {
      const { a, b, bId } = await fresh()
      let calls = 0
      const off = b.subscribe(() => calls++)
      off()
      const got = nextMessage(b, messageMs)
      await a.publish({ nodeId: bId, signal: b.offsets }, { type: 'app/x', body: 1 })
      await got
      checkEqual(calls, 0, 'calls of an unsubscribed handler')
    })

    it('rejects publish with an aborted signal', async () => {
      const { a, b, bId } = await fresh()
      const ctrl = new AbortController()
      ctrl.abort()
      await checkRejects(
        () =>
          a.publish(
            { nodeId: bId, signal: b.offsets },
            { type: 'app/x', body: 1 },
            { signal: ctrl.signal },
          ),
        'publish with an already aborted signal',
      )
    })

    it('keeps delivering to the other handlers when one throws', async () => {
      const { a, b, bId } = await fresh()
      b.subscribe(() => {
        throw new Error('handler bug')
      })
      const got = nextMessage(b, messageMs)
      await a.publish({ nodeId: bId, signal: b.offsets }, { type: 'app/x', body: 2 })
      checkEqual((await got).message.body, 2, 'body seen by the handler after a throwing one')
    })

    it('rejects publish after close, and close is idempotent', async () => {
      const { a, b, bId } = await fresh()
      await a.close()
      await a.close()
      await checkRejects(
        () => a.publish({ nodeId: bId, signal: b.offsets }, { type: 'app/x', body: 1 }),
        'publish after close',
      )
    })

    it('exposes the broker offsets it listens on', async () => {
      const { a } = await fresh()
      check(a.offsets.length > 0, 'a started endpoint lists at least one offset')
    })
  })
}
