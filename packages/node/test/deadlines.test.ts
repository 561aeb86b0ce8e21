import { createServer, type Server, type Socket } from 'node:net'
import { encodePeerAddress } from '@p2pd/address'
import { generateIdentity } from '@p2pd/identity'
import {
  isP2pdError,
  MemorySignalingHub,
  type RawConnection,
  type Strategy,
  TimeoutError,
} from '@p2pd/interface'
import { gcEvery, underGc } from '@p2pd/testkit/gc'
import { echoRoundTrip, firstOf } from '@p2pd/testkit/pipes'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectError, createNode, direct, NodeError } from '../src/index.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

// vitest runs with --expose-gc: every wait below runs through full collections.
function collectEvery(ms: number) {
  cleanups.push(gcEvery(ms))
}

async function node(
  init: Partial<Parameters<typeof createNode>[0]> = {},
  hub = new MemorySignalingHub(),
) {
  const n = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    listen: { host: '127.0.0.1' },
    ...init,
  })
  cleanups.push(() => n.stop())
  return n
}

/** A TCP server that accepts and never says a word. */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => {
    for (const s of sockets) s.destroy()
    return new Promise((r) => server.close(r))
  })
  return (server.address() as { port: number }).port
}

describe('node deadlines under forced GC', () => {
  it('connect({ timeoutMs }) to a peer that accepts TCP and stays silent settles on time', async () => {
    collectEvery(50)
    const a = await node({ handshakeTimeoutMs: 60_000, stageTimeoutMs: { direct: 60_000 } })
    await a.start()
    const port = await silentServer()
    const silent = encodePeerAddress({
      ...a.address,
      ip4: a.address.ip4.map((i) => ({ ...i, port })),
      nodeId: generateIdentity().nodeId,
    })
    for (const timeoutMs of [600, 1200]) {
      const t = await underGc(timeoutMs, () =>
        a.connect(silent, { strategies: [direct()], timeoutMs }),
      )
      expect(t.err).toBeInstanceOf(TimeoutError)
      expect(t.ms).toBeGreaterThanOrEqual(timeoutMs - 5)
      // +10 %, + 60 ms for a full collection's pause, + how late a plain timer fired meanwhile.
      expect(t.ms).toBeLessThanOrEqual(t.limitMs + 10)
    }
  })

  it('a stage deadline fires even when the strategy ignores its signal', async () => {
    collectEvery(50)
    const deaf: Strategy = {
      name: 'deaf',
      canTry: () => true,
      connect: () => new Promise<RawConnection>(() => {}),
    }
    const a = await node({ stageTimeoutMs: { deaf: 600 } })
    const b = await node()
    await Promise.all([a.start(), b.start()])
    const t = await underGc(600, () => a.connect(b.addressText, { strategies: [deaf] }))
    expect(t.err).toBeInstanceOf(ConnectError)
    const stage = (t.err as ConnectError).report.stages[0]
    expect(stage?.outcome).toBe('failed')
    expect(stage?.error?.code).toBe('TIMEOUT')
    // +10 %, + 60 ms for a full collection's pause, + how late a plain timer fired meanwhile.
    expect(t.ms).toBeLessThanOrEqual(t.limitMs + 10)
  })
})

describe('stage signal lifecycle', () => {
  it('the winner keeps its connection when its strategy closes the socket on abort', async () => {
    const hub = new MemorySignalingHub()
    const inner = direct()
    const closesOnAbort: Strategy = {
      ...inner,
      name: 'strict',
      async connect(ctx, signal) {
        const raw = await inner.connect(ctx, signal)
        // The natural reading of "must honour signal": close what you opened on abort.
        signal.addEventListener('abort', () => raw.stream.destroy(), { once: true })
        return raw
      },
    }
    // A second stage that is still running when the first wins, so cancelling happens.
    let slowCancelled = false
    const slow: Strategy = {
      name: 'slow',
      canTry: () => true,
      connect: (_ctx, signal) =>
        new Promise<RawConnection>((_, reject) =>
          signal.addEventListener(
            'abort',
            () => {
              slowCancelled = true
              reject(signal.reason)
            },
            { once: true },
          ),
        ),
    }
    const a = await node({ headStartMs: { strict: 0 } }, hub)
    const b = await node({}, hub)
    await Promise.all([a.start(), b.start()])
    const errors: unknown[] = []
    const onError = (e: unknown) => errors.push(e)
    process.on('unhandledRejection', onError)
    process.on('uncaughtException', onError)
    cleanups.push(() => {
      process.off('unhandledRejection', onError)
      process.off('uncaughtException', onError)
    })
    const [pipe, inbound] = await Promise.all([
      a.connect(b.addressText, { strategies: [closesOnAbort, slow] }),
      firstOf(b.incoming),
    ])
    expect(pipe.strategy).toBe('strict')
    await new Promise((r) => setTimeout(r, 100))
    expect(pipe.destroyed).toBe(false)
    const r = await echoRoundTrip(pipe, inbound, 256 * 1024)
    expect(r.received).toBe(r.sent)
    expect(slowCancelled).toBe(true)
    expect(errors).toEqual([])
  })
})

describe('degraded start', () => {
  it('reports a node whose discovery observed nothing, and refuses it in strict mode', async () => {
    const a = await node({ interfaces: async () => [] })
    const seen: string[][] = []
    a.on('degraded', (h) => seen.push([...h.problems]))
    await a.start()
    expect(a.health.status).toBe('degraded')
    expect(a.health.problems[0]).toMatch(/no STUN server answered/)
    expect(seen).toHaveLength(1)

    const strict = await node({ interfaces: async () => [], strict: true })
    const err = await strict.start().catch((e) => e)
    expect(isP2pdError(err, 'NODE_DEGRADED')).toBe(true)
    expect(err).toBeInstanceOf(NodeError)

    const fine = await node()
    await fine.start({ strict: true })
    expect(fine.health).toEqual({ status: 'ok', problems: [] })
  })
})
