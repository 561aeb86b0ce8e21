import { MemorySignalingHub, type NatInfo, NatType } from '@p2pd/interface'
import { listInterfaces } from '@p2pd/nat'
import { StunServer } from '@p2pd/stun'
import { echoRoundTrip, firstOf } from '@p2pd/testkit/pipes'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createNode,
  direct,
  directCandidates,
  type InterfaceInit,
  type P2pdNode,
  stunInterfaces,
} from '../src/index.js'
import { candidateAddresses, wildcardHost } from '../src/ipv6.js'
import { cone, firewall, iface, open, peer } from './peer-fixtures.js'

describe('direct candidates (happy eyeballs order)', () => {
  const me = peer('a', [iface('198.18.0.30', cone, '10.0.0.2')], [iface('2001:db8:1::2', firewall)])

  it('puts IPv6 first when both families are equally open', () => {
    const them = peer('b', [iface('198.18.0.40', open)], [iface('2001:db8:2::2', open)])
    expect(directCandidates(me, them).map((e) => e.host)).toEqual(['2001:db8:2::2', '198.18.0.40'])
  })

  it('puts a measured-open IPv4 before an IPv6 firewall (filtered inbound)', () => {
    const them = peer('b', [iface('198.18.0.40', open)], [iface('2001:db8:2::2', firewall)])
    expect(directCandidates(me, them).map((e) => e.host)).toEqual(['198.18.0.40', '2001:db8:2::2'])
  })

  it('dials an IPv6 firewall only when we have IPv6; never a NATed interface', () => {
    const them = peer('b', [iface('198.18.0.40', cone)], [iface('2001:db8:2::2', firewall)])
    expect(directCandidates(me, them).map((e) => e.host)).toEqual(['2001:db8:2::2'])
    const v4only = peer('a', [iface('198.18.0.30', cone, '10.0.0.2')], [])
    expect(directCandidates(v4only, them)).toEqual([])
  })

  it('same machine: loopback of both families first, IPv6 first', () => {
    const them = peer(
      'a',
      [iface('198.18.0.30', cone, '10.0.0.2')],
      [iface('2001:db8:1::2', firewall)],
    )
    expect(directCandidates(me, them).map((e) => e.host)).toEqual([
      '::1',
      '127.0.0.1',
      '2001:db8:1::2',
      '10.0.0.2',
    ])
  })
})

describe('IPv6 discovery helpers', () => {
  it('listens on :: when the machine has any IPv6 address, else 0.0.0.0', () => {
    const v6 = { address: '::1', family: 'IPv6', internal: true, scopeid: 0 }
    const v4 = { address: '127.0.0.1', family: 'IPv4', internal: true }
    expect(wildcardHost({ lo: [v4, v6] } as never)).toBe('::')
    expect(wildcardHost({ lo: [v4] } as never)).toBe('0.0.0.0')
  })

  it('probes global IPv6 before ULA; pinned addresses as given, per family', async () => {
    const ifaces = await listInterfaces({
      interfaces: {
        eth0: [
          { address: 'fd00::2', family: 'IPv6', internal: false, cidr: 'fd00::2/64' },
          { address: '2001:db8:5::2', family: 'IPv6', internal: false, cidr: '2001:db8:5::2/64' },
          { address: '10.0.0.2', family: 'IPv4', internal: false, cidr: '10.0.0.2/24' },
        ],
      } as never,
      routes: [
        { iface: 'eth0', family: 6, metric: 1 },
        { iface: 'eth0', family: 4, metric: 1 },
      ] as never,
      publicRanges: ['2001:db8::/32'],
    })
    expect(candidateAddresses(ifaces, 6).map((a) => a.address)).toEqual([
      '2001:db8:5::2',
      'fd00::2',
    ])
    expect(candidateAddresses(ifaces, 6, ['::1', '127.0.0.1'])).toEqual([{ address: '::1' }])
    expect(candidateAddresses(ifaces, 4, ['::1', '127.0.0.1'])).toEqual([{ address: '127.0.0.1' }])
  })
})

describe('IPv6 through the node, on ::1', () => {
  // One IPv6 loopback address: the alternate is an IPv4-mapped one (bindings need only ::1).
  const stun = new StunServer({ primaryHost: '::1', alternateHost: '::ffff:127.0.0.2' })
  const nodes: P2pdNode[] = []
  beforeAll(() => stun.start())
  afterAll(() => stun.close())
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
  })
  const hub = new MemorySignalingHub()
  const node = (init: Partial<Parameters<typeof createNode>[0]>) => {
    const n = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      strategies: [direct()],
      ...init,
    })
    nodes.push(n)
    return n
  }

  it('discovers and announces an IPv6 interface without NAT; listens on both families', async () => {
    const logs: string[] = []
    const n = node({
      interfaces: stunInterfaces({
        stunServers: [`[::1]:${stun.primary.port}`],
        addresses: ['::1'],
        log: (m) => logs.push(m),
      }),
    })
    await n.start()
    expect(n.address.ip4).toEqual([])
    const [v6] = n.address.ip6
    // The address format spells IPv6 out in full.
    expect(v6?.ext).toBe('0000:0000:0000:0000:0000:0000:0000:0001')
    expect(v6?.nic).toBe(v6?.ext)
    // No translation: open, or "firewall, no NAT" (the change-IP dial-back cannot reach ::1).
    expect([NatType.OpenInternet, NatType.SymmetricUdpFirewall]).toContain(v6?.nat.type)
    expect(n.listening.host).toBe('::')
    expect(logs.join('\n')).toMatch(/::1: external ::1/)
  })

  const connect = async (a: P2pdNode, b: P2pdNode) => {
    const [pipe, inbound] = await Promise.all([a.connect(b.addressText), firstOf(b.incoming)])
    const r = await echoRoundTrip(pipe, inbound, 32 * 1024)
    expect(r.received).toBe(r.sent)
    return pipe
  }
  const dual = (v6: NatInfo, v4: NatInfo): InterfaceInit[] => [
    { ext: '::1', nat: v6 },
    { ext: '127.0.0.1', nat: v4 },
  ]

  it('direct prefers a working IPv6 path over IPv4', async () => {
    const a = node({ interfaces: dual(open, open), machineId: 'machineA' })
    const b = node({ interfaces: dual(open, open), machineId: 'machineB' })
    await Promise.all([a.start(), b.start()])
    expect(b.listening.host).toBe('::')
    const pipe = await connect(a, b)
    expect(pipe.strategy).toBe('direct')
    expect(pipe.path.remote.host).toBe('::1')
  })

  it('falls back to IPv4 within the same direct attempt when the IPv6 path is refused', async () => {
    const a = node({ interfaces: dual(open, open), machineId: 'machineA' })
    // Announces ::1 but listens on IPv4 only: the IPv6 dial is refused.
    const b = node({
      interfaces: dual(open, open),
      machineId: 'machineB',
      listen: { host: '127.0.0.1' },
    })
    await Promise.all([a.start(), b.start()])
    const pipe = await connect(a, b)
    expect(pipe.path.remote.host).toBe('127.0.0.1')
    // One direct stage, won: the refusal moved on to the next candidate, not to a new stage.
    expect(pipe.report.stages.map((st) => [st.strategy, st.outcome])).toEqual([['direct', 'won']])
  })
})
