import { NatType } from '@p2pd/interface'
import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { discoverNat, natInfoForInterface, ObservedMapping } from '../src/index.js'
import { probeFamily } from '../src/servers.js'

describe('IPv6 without translation, on ::1', () => {
  // One IPv6 loopback address: the alternate IP is an IPv4-mapped one (the mapping tests need
  // only the primary; its change-IP dial-backs cannot reach ::1).
  const stun = new StunServer({ primaryHost: '::1', alternateHost: '::ffff:127.0.0.2' })
  beforeAll(() => stun.start())
  afterAll(() => stun.close())

  it('picks the family from the local address, else from IPv6-literal servers', () => {
    expect(probeFamily('::1', ['127.0.0.1:3478'])).toBe(6)
    expect(probeFamily('10.0.0.2', ['[::1]:3478'])).toBe(4)
    expect(probeFamily(undefined, ['[2001:db8::1]:3478', { host: '::1', port: 1 }])).toBe(6)
    expect(probeFamily(undefined, ['[2001:db8::1]:3478', 'stun.example.net'])).toBe(4)
    expect(probeFamily(undefined, [])).toBe(4)
    expect(probeFamily(undefined, ['[bad'])).toBe(4)
  })

  it('classifies mapping none with no family given: the record is open or firewall, no delta', async () => {
    const r = await natInfoForInterface({ servers: [`[::1]:${stun.primary.port}`] })
    for (const d of [r.udp, r.tcp]) {
      expect(d.behaviour.family).toBe(6)
      expect(d.behaviour.natted).toBe(false)
      expect(d.mapping).toBe('none')
      expect(d.behaviour.mapped?.host).toBe('::1')
      expect(d.behaviour.mapped?.port).toBe(d.behaviour.local.port)
      expect(d.delta).toBeUndefined()
    }
    // Filtering is measured over TCP too (the server dials back), never inferred from UDP.
    expect(r.tcp.behaviour.filteringSource).toBe('measured')
    expect([NatType.OpenInternet, NatType.SymmetricUdpFirewall]).toContain(r.natInfo.type)
    expect(r.natInfo.delta).toEqual({ type: 1, value: 0 })
  })

  it('the TCP same-IP, other-port dial-back reaches an unfiltered ::1 (filtering is not APDF)', async () => {
    const d = await discoverNat({ servers: [stun.primary], transport: 'tcp', localAddress: '::1' })
    expect(d.mapping).toBe('none')
    expect(d.behaviour.observations.filtering.changePort).toBe(true)
    expect(d.filtering).not.toBe('APDF')
  })

  it('observes a TCP mapping from an IPv6 server given as text', async () => {
    const m = await ObservedMapping.open({
      server: `[::1]:${stun.primary.port}`,
      transport: 'tcp',
    })
    try {
      expect(m.mapped.host).toBe('::1')
    } finally {
      await m.close()
    }
  })
})
