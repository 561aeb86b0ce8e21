import { connect, createServer, type Server, type Socket } from 'node:net'
import { TimeoutError } from '@p2pd/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity, secureChannel } from '../src/index.js'

// vitest runs with --expose-gc: deadlines must fire through full collections.
const gc = (globalThis as { gc?: () => void }).gc as () => void

/**
 * Runs `work` while forcing a full GC every 50 ms, beside a plain control timer of
 * `deadlineMs`: how late that timer fires is how late any timer fires on this machine right now
 * (a loaded CI box), and the deadline under test is allowed just as much on top of its bound.
 */
async function underGc<T>(
  deadlineMs: number,
  work: () => Promise<T>,
): Promise<{ value?: T; err?: unknown; ms: number; limitMs: number }> {
  const timer = setInterval(gc, 50)
  const t0 = performance.now()
  const control = new Promise<number>((resolve) =>
    setTimeout(() => resolve(performance.now() - t0), deadlineMs),
  )
  const settled = await work().then(
    (value) => ({ value, ms: performance.now() - t0 }),
    (err: unknown) => ({ err, ms: performance.now() - t0 }),
  )
  const lateMs = Math.max(0, (await control) - deadlineMs)
  clearInterval(timer)
  // The bound: + 10 %, + 50 ms for the rejection to travel, + the machine's own timer lateness.
  return { ...settled, limitMs: deadlineMs * 1.1 + 50 + lateMs }
}

describe('the secure-channel handshake deadline survives garbage collection', () => {
  // A peer that accepts, reads what it is sent, and never says a word.
  let mute: Server
  const held: Socket[] = []
  beforeAll(async () => {
    mute = createServer((s) => {
      held.push(s)
      s.on('error', () => {})
      s.resume()
    })
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    for (const s of held) s.destroy()
    await new Promise((resolve) => mute.close(resolve))
  })

  for (const initiator of [true, false]) {
    it(`rejects with a TimeoutError on time against a mute peer (initiator: ${initiator})`, async () => {
      const port = (mute.address() as { port: number }).port
      const socket = connect(port, '127.0.0.1')
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      const identity = generateIdentity()
      const r = await underGc(1000, () =>
        secureChannel(socket, {
          identity,
          expectedPeer: () => true,
          initiator,
          timeoutMs: 1000,
          signal: new AbortController().signal,
        }),
      )
      expect(r.err).toBeInstanceOf(TimeoutError)
      expect(r.ms).toBeGreaterThanOrEqual(995)
      expect(r.ms).toBeLessThanOrEqual(r.limitMs)
      expect(socket.destroyed).toBe(true)
    })
  }
})
