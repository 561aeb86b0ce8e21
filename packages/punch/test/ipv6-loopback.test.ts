import { DeltaType, MemorySignalingHub, NatType, type Pipe } from '@p2pd/interface'
import { StunServer } from '@p2pd/stun'
import { echoRoundTrip, firstOf } from '@p2pd/testkit/pipes'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
// @p2pd/node depends on @p2pd/punch, so it is imported from source by path (no cycle in deps).
import { createNode, type InterfaceInit, type P2pdNode } from '../../node/src/index.js'
import { type PunchEvent, punch } from '../src/index.js'

// IPv6 has one loopback address; the alternate IP (unused by the punch, which only asks for
// bindings) is an IPv4-mapped one, which a dual-stack socket can bind.
let stun6: StunServer
let stun4: StunServer
const started: P2pdNode[] = []

beforeAll(async () => {
  stun6 = new StunServer({ primaryHost: '::1', alternateHost: '::ffff:127.0.0.2' })
  stun4 = new StunServer()
  await Promise.all([stun6.start(), stun4.start()])
})
afterAll(async () => {
  await Promise.all([stun6.close(), stun4.close()])
})
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

const firewall = { type: NatType.SymmetricUdpFirewall, delta: { type: 1, value: 0 } } as const
const open = { type: NatType.OpenInternet, delta: { type: 1, value: 0 } } as const
const random = { type: NatType.Symmetric, delta: { type: DeltaType.Random, value: 0 } } as const

async function pair(interfaces: [InterfaceInit[], InterfaceInit[]], events: PunchEvent[]) {
  const hub = new MemorySignalingHub({ latencyMs: 5 })
  // The IPv4 server first: a punch over IPv6 must skip it, not fail on it.
  const strategies = [
    punch({
      stunServers: [stun4.primary, stun6.primary],
      onEvent: (e) => {
        events.push(e)
        if (process.env.PUNCH_DEBUG) console.log(e)
      },
    }),
  ]
  const mk = (i: 0 | 1) =>
    createNode({
      signaling: (id) => hub.connect(id.nodeId),
      strategies,
      listen: { host: '::1' },
      machineId: `machine${i}`,
      interfaces: interfaces[i],
    })
  const a = mk(0)
  const b = mk(1)
  started.push(a, b)
  await Promise.all([a.start(), b.start()])
  return { a, b }
}

async function connectAndEcho(a: P2pdNode, b: P2pdNode) {
  const [pipe, inbound] = (await Promise.all([a.connect(b.addressText), firstOf(b.incoming)])) as [
    Pipe,
    Pipe,
  ]
  const r = await echoRoundTrip(pipe, inbound, 64 * 1024)
  expect(r.received).toBe(r.sent)
  return pipe
}

describe('punch over IPv6, on loopback', () => {
  it('two IPv6 hosts without NAT: an open side listens, the mappings are STUN-observed on ::1', async () => {
    const events: PunchEvent[] = []
    const { a, b } = await pair(
      [[{ ext: '::1', nat: firewall }], [{ ext: '::1', nat: open }]],
      events,
    )
    const pipe = await connectAndEcho(a, b)
    expect(pipe.strategy).toBe('punch')
    expect(pipe.path.remote.host).toBe('::1')
    expect(events.find((e) => e.type === 'planned')).toMatchObject({
      mode: 'remote',
      acceptor: 'answerer',
    })
  })

  it('dual-stack, random × random over IPv4: punches over IPv6 instead of giving up', async () => {
    const events: PunchEvent[] = []
    // (Two firewalls need the lab: on loopback an unsolicited SYN is refused within
    // microseconds, so a simultaneous open has nothing to cross; tools/natlab's IPv6 test.)
    const iface = (v6: typeof firewall | typeof open): InterfaceInit[] => [
      { ext: '127.0.0.1', nat: random },
      { ext: '::1', nat: v6 },
    ]
    const { a, b } = await pair([iface(firewall), iface(open)], events)
    expect(a.address.ip4.length).toBe(1)
    expect(a.address.ip6.length).toBe(1)
    const pipe = await connectAndEcho(a, b)
    expect(pipe.strategy).toBe('punch')
    expect(pipe.path.remote.host).toBe('::1')
    expect(events.find((e) => e.type === 'planned')).toMatchObject({ acceptor: 'answerer' })
  })
})
