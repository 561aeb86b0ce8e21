import { connect, createServer, type Server, type Socket } from 'node:net'
import { TimeoutError } from '@p2pd/interface'
import { underGc } from '@p2pd/testkit/gc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity, secureChannel } from '../src/index.js'

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
