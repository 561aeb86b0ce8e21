import { connect, createServer, type Server, type Socket } from 'node:net'
import { TimeoutError } from '@p2pd/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity, secureChannel } from '../src/index.js'

// vitest runs with --expose-gc: deadlines must fire through full collections.
const gc = (globalThis as { gc?: () => void }).gc as () => void

/** Runs `work` while forcing a full GC every 50 ms; returns how it settled and when. */
async function underGc(work: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const timer = setInterval(gc, 50)
  const t0 = performance.now()
  try {
    await work()
    return { err: undefined, ms: performance.now() - t0 }
  } catch (err) {
    return { err, ms: performance.now() - t0 }
  } finally {
    clearInterval(timer)
  }
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
      const r = await underGc(() =>
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
      // + 10 %, and a little for a loaded machine running other test files beside this one.
      expect(r.ms).toBeLessThanOrEqual(1000 * 1.1 + 100)
      expect(socket.destroyed).toBe(true)
    })
  }
})
