import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { discoverNat, formatNatDiscovery } from '../src/index.js'
import { probeTcpFiltering } from '../src/tcp-filtering.js'

// On loopback there is no NAT and no firewall: every dial-back passes (EIF) and a SYN to a port
// nothing listens on draws the kernel's RST. The NAT lab checks drop and RST filters for real.
describe('TCP filtering measured by dial-backs (loopback)', () => {
  let server: StunServer
  beforeAll(async () => {
    server = new StunServer({ rateLimit: false })
    await server.start()
  })
  afterAll(() => server.close())

  it('probeTcpFiltering: EIF, SYN policy rst, both dial-backs connected', async () => {
    const ac = new AbortController()
    const p = await probeTcpFiltering({
      server: server.primary,
      localAddress: '127.0.0.1',
      rttMs: 1,
      deadline: performance.now() + 5000,
      signal: ac.signal,
    })
    expect(p.outcomes).toEqual({
      changeIpPort: 'connected',
      changePort: 'connected',
      unmapped: 'refused',
    })
    expect(p.filtering).toBe('EIF')
    expect(p.synPolicy).toBe('rst')
    expect(p.notes).toEqual([])
  })

  it('discoverNat over TCP reports filtering measured and the SYN policy', async () => {
    const d = await discoverNat({
      servers: [`127.0.0.1:${server.primary.port}`],
      transport: 'tcp',
      localAddress: '127.0.0.1',
      timeoutMs: 5000,
    })
    expect(d.behaviour.filteringSource).toBe('measured')
    expect(d.filtering).toBe('EIF')
    expect(d.behaviour.synPolicy).toBe('rst')
    expect(formatNatDiscovery(d)).toContain('filtering EIF (measured)   SYN rst')
  })

  it('a server that does not dial back leaves TCP filtering unmeasured', async () => {
    const plain = new StunServer({ rateLimit: false, tcpCallback: false })
    await plain.start()
    try {
      const d = await discoverNat({
        servers: [`127.0.0.1:${plain.primary.port}`],
        transport: 'tcp',
        localAddress: '127.0.0.1',
        timeoutMs: 5000,
      })
      expect(d.behaviour.filteringSource).toBe('none')
      expect(d.filtering).toBe('unknown')
      expect(d.behaviour.synPolicy).toBeUndefined()
      expect(d.behaviour.notes.join(' ')).toContain('no TCP-CALLBACK')
    } finally {
      await plain.close()
    }
  })
})
