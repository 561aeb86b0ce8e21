import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { describe, expect, it, type TestContext } from 'vitest'
import {
  isRelayLost,
  RELAY_IDLE_TIMEOUT_MS,
  TurnServer,
  type TurnServerConfig,
  type TurnServerOptions,
  turn,
} from '../src/index.js'
import { type Ending, ending, keepStreaming, relayedPair } from './relay-pair.js'

/** The bar: a lost relay is reported on both ends within this (ms). */
const BOUND_MS = 5000

const users = { a: 'pa', b: 'pb' }

/**
 * Runs `f` at the end of the test of `ctx`. The tests here run concurrently (most of each is
 * waiting for a timeout), so cleanup must hang on the test's own context.
 */
function later(ctx: TestContext, f: () => Promise<unknown>): void {
  ctx.onTestFinished(async () => {
    await f().catch(() => {})
  })
}

async function server(
  ctx: TestContext,
  opts: Partial<TurnServerOptions> = {},
): Promise<TurnServer> {
  const s = new TurnServer({ users, allowLoopbackPeers: true, ...opts })
  await s.start()
  later(ctx, () => s.close())
  return s
}

function config(s: TurnServer, user: keyof typeof users): TurnServerConfig {
  return { ...s.address, username: user, password: users[user] }
}

/** A relayed secure pipe pair; `a` allocates on `sa`, `b` on `sb`. */
async function pair(ctx: TestContext, sa: TurnServer, sb: TurnServer, client = {}) {
  const p = await relayedPair(
    // UDP relays (tcp: false): what this file tests is the reliable stream's loss detection.
    turn({ servers: [config(sa, 'a')], client: { rtoMs: 100, ...client }, tcp: false }),
    turn({ servers: [config(sb, 'b')], client: { rtoMs: 100, ...client }, tcp: false }),
  )
  later(ctx, async () => {
    await Promise.all([p.pa.close(), p.pb.close()])
    await p.close()
  })
  return { ...p, endA: ending(p.pa), endB: ending(p.pb) }
}

/** Both ends failed with TURN_RELAY_LOST within the bound; returns their times (ms). */
function expectRelayLost(t0: number, ends: Ending[]): number[] {
  const times = ends.map((e) => Math.round(e.at - t0))
  for (const e of ends) {
    expect(e.error, 'the pipe closed without an error').toBeDefined()
    expect(isRelayLost(e.error), String(e.error)).toBe(true)
  }
  for (const ms of times) expect(ms).toBeLessThan(BOUND_MS)
  return times
}

describe.concurrent('a relayed pipe whose relay disappears', () => {
  it('server closed mid-stream: both ends fail with TURN_RELAY_LOST within 5 s', async (ctx) => {
    const s = await server(ctx)
    const { pa, pb, endA, endB } = await pair(ctx, s, s)
    await keepStreaming(pa, pb)
    const t0 = performance.now()
    await s.close()
    const times = expectRelayLost(t0, await Promise.all([endA, endB]))
    // The bound comes from the stream's idle limit, not from luck.
    for (const ms of times) expect(ms).toBeGreaterThanOrEqual(RELAY_IDLE_TIMEOUT_MS - 300)
  })

  it('server closed while the pipe is idle: the same within 5 s', async (ctx) => {
    const s = await server(ctx)
    const { endA, endB } = await pair(ctx, s, s)
    await new Promise((r) => setTimeout(r, 300))
    const t0 = performance.now()
    await s.close()
    expectRelayLost(t0, await Promise.all([endA, endB]))
  })

  it('server restarted on the same port mid-stream: both ends within 5 s', async (ctx) => {
    const s = await server(ctx)
    const { pa, pb, endA, endB } = await pair(ctx, s, s)
    await keepStreaming(pb, pa)
    const port = s.address.port
    const t0 = performance.now()
    await s.close()
    const again = await server(ctx, { port })
    expect(again.address.port).toBe(port)
    expectRelayLost(t0, await Promise.all([endA, endB]))
  })

  it('only the offerer’s server dies: the answerer (other relay) learns too', async (ctx) => {
    const [s1, s2] = await Promise.all([server(ctx), server(ctx)])
    const { pa, pb, endA, endB } = await pair(ctx, s1, s2)
    await keepStreaming(pa, pb)
    const t0 = performance.now()
    await s1.close()
    expectRelayLost(t0, await Promise.all([endA, endB]))
  })

  it('refresh answered 437 (restart, 2 s lifetime): TURN_RELAY_LOST caused by it', async (ctx) => {
    const s = await server(ctx, { defaultLifetimeSec: 2, maxLifetimeSec: 2 })
    const { pa, pb, endA, endB } = await pair(ctx, s, s, { lifetimeSec: 2 })
    await keepStreaming(pa, pb)
    const port = s.address.port
    const t0 = performance.now()
    await s.close()
    await server(ctx, { port, defaultLifetimeSec: 2, maxLifetimeSec: 2 })
    const ends = await Promise.all([endA, endB])
    expectRelayLost(t0, ends)
    for (const e of ends) {
      // The refresh (every second here) fails before the stream's idle limit.
      const lost = (e.error?.cause as Error | undefined)?.cause
      expect(lost).toMatchObject({ code: 'TURN_ALLOCATION_LOST', errorCode: 437 })
      expect(e.at - t0).toBeLessThan(RELAY_IDLE_TIMEOUT_MS)
    }
  })
})

describe.concurrent('against coturn', () => {
  it('coturn killed mid-stream (offerer over TCP): both ends within 5 s', async (ctx) => {
    const coturn: Coturn = await startCoturn()
    later(ctx, () => coturn.stop())
    const udp: TurnServerConfig = {
      host: coturn.host,
      port: coturn.port,
      username: coturn.user,
      password: coturn.password,
    }
    const p = await relayedPair(
      turn({ servers: [{ ...udp, transport: 'tcp' }], tcp: false }),
      turn({ servers: [udp], tcp: false }),
    )
    later(ctx, async () => {
      await Promise.all([p.pa.close(), p.pb.close()])
      await p.close()
    })
    const [endA, endB] = [ending(p.pa), ending(p.pb)]
    await keepStreaming(p.pa, p.pb)
    const t0 = performance.now()
    await coturn.stop()
    const [a, b] = await Promise.all([endA, endB])
    expectRelayLost(t0, [a, b])
    // Over TCP the owner hears the connection drop at once.
    expect(a.at - t0).toBeLessThan(1000)
  })
})
