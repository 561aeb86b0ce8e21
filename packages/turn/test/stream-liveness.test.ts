import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import {
  createMemoryLinkPair,
  type DatagramLink,
  ReliableStream,
  StreamError,
  TurnError,
} from '../src/index.js'

/** A memory link pair with a switch that silently drops everything (a path that died). */
function cuttablePair() {
  const [x, y] = createMemoryLinkPair()
  const state = { cut: false }
  const wrap = (link: DatagramLink): DatagramLink => ({
    send: (p) => {
      if (!state.cut) link.send(p)
    },
    onReceive: (h) => link.onReceive(h),
    close: () => link.close(),
    lostError: (cause) => new TurnError('TURN_RELAY_LOST', `lost: ${cause.message}`, { cause }),
  })
  return { a: wrap(x), b: wrap(y), state }
}

const fast = { keepAliveMs: 100, idleTimeoutMs: 400, openTimeoutMs: 1500 }

describe('reliable stream liveness', () => {
  it('an idle path that dies fails both ends after the idle limit, named by the link', async () => {
    const { a, b, state } = cuttablePair()
    const x = new ReliableStream(a, { conv: 1, ...fast })
    const y = new ReliableStream(b, { conv: 1, ...fast })
    x.write('hello')
    await once(y, 'data')
    // Idle but alive: keep-alives carry it past several idle limits.
    await new Promise((r) => setTimeout(r, 1000))
    expect(x.destroyed || y.destroyed).toBe(false)
    const t0 = performance.now()
    state.cut = true
    const [[ex], [ey]] = (await Promise.all([once(x, 'error'), once(y, 'error')])) as [
      [TurnError],
      [TurnError],
    ]
    const took = performance.now() - t0
    for (const e of [ex, ey]) {
      expect(e).toMatchObject({ code: 'TURN_RELAY_LOST' })
      expect(e.cause).toBeInstanceOf(StreamError)
      expect(e.cause).toMatchObject({ code: 'STREAM_IDLE_TIMEOUT' })
    }
    // The limit counts from the last keep-alive heard, up to one interval (and a late tick on a
    // loaded machine) before the cut.
    expect(took).toBeGreaterThanOrEqual(fast.idleTimeoutMs - fast.keepAliveMs - 50)
    expect(took).toBeLessThan(fast.idleTimeoutMs + 400)
  })

  it('before the peer is first heard, the open limit applies instead', async () => {
    const { a } = cuttablePair()
    const t0 = performance.now()
    const x = new ReliableStream(a, { conv: 2, ...fast })
    const [err] = (await once(x, 'error')) as [TurnError]
    const took = performance.now() - t0
    expect(err.code).toBe('TURN_RELAY_LOST')
    expect(took).toBeGreaterThanOrEqual(fast.openTimeoutMs - 10)
    expect(took).toBeLessThan(fast.openTimeoutMs + 400)
  })
})
