import { MemorySignalingHub, NatType, type Pipe } from '@p2pd/interface'
import { StunServer } from '@p2pd/stun'
import { echoRoundTrip, firstOf } from '@p2pd/testkit/pipes'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
// @p2pd/node depends on @p2pd/punch, so it is imported from source by path (no cycle in deps).
import { createNode, type InterfaceInit, type P2pdNode } from '../../node/src/index.js'
import { type PunchEvent, punch } from '../src/index.js'

let stun: StunServer
const started: P2pdNode[] = []

beforeAll(async () => {
  stun = new StunServer() // 127.0.0.1 + 127.0.0.2
  await stun.start()
})
afterAll(async () => {
  await stun.close()
})
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

/** Echo `bytes` through the pair and check that what came back is what was sent. */
async function echo(client: Pipe, server: Pipe, bytes: number) {
  const r = await echoRoundTrip(client, server, bytes)
  expect(r.received).toBe(r.sent)
}

async function pair(opts: {
  machineIds?: [string, string]
  interfaces?: [InterfaceInit[], InterfaceInit[]]
  latencyMs?: number
  events?: PunchEvent[]
}) {
  const hub = new MemorySignalingHub({ latencyMs: opts.latencyMs ?? 0 })
  const strategies = [
    punch({
      stunServers: [stun.primary],
      onEvent: (e) => {
        opts.events?.push(e)
        if (process.env.PUNCH_DEBUG) console.log(e)
      },
    }),
  ]
  const mk = (i: 0 | 1) =>
    createNode({
      signaling: (id) => hub.connect(id.nodeId),
      strategies,
      listen: { host: '127.0.0.1' },
      machineId: opts.machineIds?.[i],
      interfaces: opts.interfaces?.[i],
      log: process.env.PUNCH_DEBUG ? (m) => console.log(`[${i}] ${m}`) : undefined,
    })
  const a = mk(0)
  const b = mk(1)
  started.push(a, b)
  await Promise.all([a.start(), b.start()])
  return { a, b }
}

describe('punch through the node, on loopback', () => {
  it('same machine: two nodes get an authenticated pipe made by punch', async () => {
    const events: PunchEvent[] = []
    const { a, b } = await pair({ events })
    const t0 = performance.now()
    const [pipe, inbound] = await Promise.all([a.connect(b.addressText), firstOf(b.incoming)])
    const ms = performance.now() - t0
    expect(pipe.strategy).toBe('punch')
    expect(pipe.report.winner).toBe('punch')
    expect(pipe.remotePeer).toBe(b.nodeId)
    expect(inbound.remotePeer).toBe(a.nodeId)
    expect(inbound.strategy).toBe('punch')
    // Fresh ports, never the listen ports.
    expect(pipe.path.local.port).not.toBe(a.address.ip4[0]?.port)
    expect(pipe.path.remote.port).not.toBe(b.address.ip4[0]?.port)
    const planned = events.find((e) => e.type === 'planned')
    expect(planned).toMatchObject({ mode: 'self', acceptor: 'answerer' })
    await echo(pipe, inbound, 256 * 1024)
    expect(ms).toBeLessThan(2_000)
  })

  it('remote mode over loopback: STUN-observed mappings, held open while punching', async () => {
    const events: PunchEvent[] = []
    const open = { type: NatType.OpenInternet, delta: { type: 1, value: 0 } } as const
    const { a, b } = await pair({
      events,
      machineIds: ['machineA', 'machineB'],
      interfaces: [[{ ext: '127.0.0.1', nat: open }], [{ ext: '127.0.0.1', nat: open }]],
      latencyMs: 20,
    })
    const [pipe, inbound] = await Promise.all([a.connect(b.addressText), firstOf(b.incoming)])
    expect(pipe.strategy).toBe('punch')
    expect(events.find((e) => e.type === 'planned')).toMatchObject({ mode: 'remote' })
    await echo(pipe, inbound, 64 * 1024)
  })
})
