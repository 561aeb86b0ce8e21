import { DeltaType, NatType } from '@p2pd/interface'
import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  discoverExternalAddress,
  discoverNat,
  natInfoForInterface,
  observeMapping,
  reprobe,
} from '../src/index.js'

// The real RFC 5780 server on 127.0.0.1 + 127.0.0.2: loopback has no NAT, so every verdict
// must be "open" and every mapped port the local one.
let server: StunServer
let spec: string
beforeAll(async () => {
  server = new StunServer()
  await server.start()
  spec = `${server.primary.host}:${server.primary.port}`
})
afterAll(() => server.close())

describe('against the real StunServer (loopback: no NAT)', () => {
  it('UDP classifies as open internet, quickly', async () => {
    const r = await discoverNat({ servers: [spec], localAddress: '127.0.0.1' })
    expect(r.natInfo).toEqual({
      type: NatType.OpenInternet,
      delta: { type: DeltaType.NotApplicable, value: 0 },
    })
    expect(r.mapping).toBe('none')
    expect(r.filtering).toBe('EIF')
    expect(r.behaviour.alternate).toEqual(server.other)
    expect(r.behaviour.mapped?.port).toBe(r.behaviour.local.port)
    expect(r.timings.totalMs).toBeLessThan(1000)
  })

  it('UDP from a wildcard socket is open too (local IPs count as ours)', async () => {
    const r = await discoverNat({ servers: [spec] })
    expect(r.natInfo.type).toBe(NatType.OpenInternet)
  })

  it('TCP: mapping none, filtering measured by dial-backs: open on its own', async () => {
    // A generous budget: this checks the dial-backs, not speed on a loaded CI machine.
    const tcp = await discoverNat({
      servers: [spec],
      localAddress: '127.0.0.1',
      transport: 'tcp',
      timeoutMs: 10_000,
    })
    expect(tcp.mapping).toBe('none')
    // The notes say why a dial-back went unanswered, should one ever be.
    expect(tcp.behaviour.filteringSource, tcp.behaviour.notes.join('; ')).toBe('measured')
    expect(tcp.natInfo.type).toBe(NatType.OpenInternet)
    const both = await natInfoForInterface({
      servers: [spec],
      localAddress: '127.0.0.1',
      timeoutMs: 10_000,
    })
    expect(both.natInfo.type).toBe(NatType.OpenInternet)
    expect(both.tcp.behaviour.filteringSource, both.tcp.behaviour.notes.join('; ')).toBe('measured')
    expect(both.udp.natInfo.type).toBe(NatType.OpenInternet)
  })

  it('TCP against a server that does not dial back: filtering comes from UDP', async () => {
    const plain = new StunServer({ tcpCallback: false })
    await plain.start()
    try {
      const at = `${plain.primary.host}:${plain.primary.port}`
      const tcp = await discoverNat({ servers: [at], localAddress: '127.0.0.1', transport: 'tcp' })
      expect(tcp.natInfo.type).toBe(NatType.SymmetricUdpFirewall) // open must be proven
      const both = await natInfoForInterface({ servers: [at], localAddress: '127.0.0.1' })
      expect(both.natInfo.type).toBe(NatType.OpenInternet)
      expect(both.tcp.behaviour.filteringSource).toBe('inferred')
    } finally {
      await plain.close()
    }
  })

  it('external address: both servers agree on 127.0.0.1', async () => {
    const other = `${server.other.host}:${server.other.port}`
    const ext = await discoverExternalAddress({ servers: [spec, other], localAddress: '127.0.0.1' })
    expect(ext).toMatchObject({ ip: '127.0.0.1', votes: 2, agreed: true, public: false })
    const lab = await discoverExternalAddress({
      servers: [spec],
      localAddress: '127.0.0.1',
      scope: { publicRanges: ['127.0.0.0/8'] },
    })
    expect(lab).toMatchObject({ agreed: true, public: true })
  })

  it.each(['udp', 'tcp'] as const)('observeMapping + reprobe over %s', async (transport) => {
    const first = await observeMapping({
      server: server.primary,
      transport,
      localAddress: '127.0.0.1',
    })
    expect(first.mapped.port).toBe(first.local.port)
    const same = await reprobe(first, { mode: 'same' })
    expect(same.mapped).toEqual(first.mapped)
    const fresh = await reprobe(same)
    expect(fresh.local.port).not.toBe(first.local.port)
    expect(fresh.mapped.port).toBe(fresh.local.port)
    await fresh.close()
  })
})
