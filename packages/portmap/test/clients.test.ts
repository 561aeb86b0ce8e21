import { createSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import { FakeGateway } from '@p2pd/testkit/fake-gateway'
import { afterEach, describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { PortMapper } from '../src/mapper.js'
import { natPmpClient } from '../src/natpmp-client.js'
import { pcpClient } from '../src/pcp-client.js'

const gateways: FakeGateway[] = []
async function fake(options: ConstructorParameters<typeof Object>[0] = {}) {
  const gw = await FakeGateway.start(options)
  gateways.push(gw)
  return gw
}
afterEach(() => {
  for (const g of gateways.splice(0)) g.close()
})

/** A loopback UDP port with nothing listening: the kernel answers ICMP port unreachable. */
async function closedPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  s.close()
  return port
}

const clients = {
  pcp: (port: number) => pcpClient({ gateway: '127.0.0.1', port }),
  'nat-pmp': (port: number) => natPmpClient({ gateway: '127.0.0.1', port }),
}

for (const [method, make] of Object.entries(clients)) {
  describe(`${method} client against a loopback gateway`, () => {
    it('maps, renews the same mapping, and deletes it', async () => {
      const gw = await fake()
      const client = make(gw.port)
      const grant = await client.map({ protocol: 'tcp', internalPort: 4000, lifetimeSeconds: 600 })
      expect(grant).toEqual({
        method,
        protocol: 'tcp',
        gateway: '127.0.0.1',
        internalAddress: '127.0.0.1',
        internalPort: 4000,
        externalAddress: '203.0.113.9',
        externalPort: 4000,
        lifetimeSeconds: 600,
      })
      const again = await client.map({ protocol: 'tcp', internalPort: 4000, lifetimeSeconds: 600 })
      expect(again.externalPort).toBe(4000)
      expect(gw.mappings.size).toBe(1)
      if (method === 'pcp') {
        // A renewal carries the first request's nonce (RFC 6887 §11.2).
        const nonces = gw.requests.map((r) => r.subarray(24, 36).toString('hex'))
        expect(new Set(nonces).size).toBe(1)
      }
      await client.unmap(grant)
      expect(gw.mappings.size).toBe(0)
    })

    it('takes the port the gateway gives when the suggested one is taken', async () => {
      const gw = await fake({ taken: [5000] })
      const grant = await make(gw.port).map({ protocol: 'udp', internalPort: 5000 })
      expect(grant.externalPort).toBe(5001)
      expect(grant.protocol).toBe('udp')
    })

    it('retransmits until an answer comes (250 ms, doubling)', async () => {
      const gw = await fake()
      gw.dropNext = 2
      const t0 = Date.now()
      await make(gw.port).map({ protocol: 'tcp', internalPort: 4100, timeoutMs: 3000 })
      expect(Date.now() - t0).toBeGreaterThanOrEqual(700) // 250 + 500 before the third send
      expect(gw.requests.length).toBeGreaterThanOrEqual(3)
    })

    it('drops stray and malformed datagrams and keeps waiting for the real reply', async () => {
      const gw = await fake()
      gw.strays = [Buffer.from('junk'), Buffer.alloc(60, 0x81), Buffer.from([0, 130, 0, 0])]
      const grant = await make(gw.port).map({ protocol: 'tcp', internalPort: 4200 })
      expect(grant.externalPort).toBe(4200)
    })

    it('fails with the result name when the gateway refuses', async () => {
      const gw = await fake()
      gw.refuseWith = 2
      const err = await make(gw.port)
        .map({ protocol: 'tcp', internalPort: 4300 })
        .catch((e) => e)
      expect(err).toBeInstanceOf(PortMapError)
      expect(err).toMatchObject({
        code: 'PORTMAP_REFUSED',
        resultCode: 2,
        resultName: 'NOT_AUTHORIZED',
      })
    })

    it('times out with PORTMAP_NO_REPLY when the gateway is silent', async () => {
      const gw = await fake()
      gw.silent = true
      const t0 = Date.now()
      const err = await make(gw.port)
        .map({ protocol: 'tcp', internalPort: 4400, timeoutMs: 600 })
        .catch((e) => e)
      expect(err).toMatchObject({ code: 'PORTMAP_NO_REPLY' })
      expect(Date.now() - t0).toBeLessThan(1500)
    })

    it('fails fast with PORTMAP_NETWORK when nothing listens (ICMP unreachable)', async () => {
      const t0 = Date.now()
      const err = await make(await closedPort())
        .map({ protocol: 'tcp', internalPort: 4500, timeoutMs: 3000 })
        .catch((e) => e)
      expect(err).toMatchObject({ code: 'PORTMAP_NETWORK' })
      expect(Date.now() - t0).toBeLessThan(1000)
    })

    it('stops on abort with AbortError', async () => {
      const gw = await fake()
      gw.silent = true
      const ac = new AbortController()
      setTimeout(() => ac.abort(), 100)
      const err = await make(gw.port)
        .map({ protocol: 'tcp', internalPort: 4600, signal: ac.signal })
        .catch((e) => e)
      expect(err).toMatchObject({ code: 'ABORTED' })
    })

    it('rejects bad arguments before sending anything', async () => {
      const gw = await fake()
      for (const bad of [
        { internalPort: 0 },
        { internalPort: 70000 },
        { internalPort: 1.5 },
        { internalPort: 80, lifetimeSeconds: 0 },
      ]) {
        await expect(make(gw.port).map({ protocol: 'tcp', ...bad })).rejects.toMatchObject({
          code: 'PORTMAP_BAD_ARGUMENT',
        })
      }
      expect(gw.requests.length).toBe(0)
    })
  })
}

describe('PortMapper', () => {
  it('falls back from PCP to NAT-PMP when the gateway only speaks version 0', async () => {
    const gw = await fake({ versions: [0] })
    const mapper = new PortMapper([clients.pcp(gw.port), clients['nat-pmp'](gw.port)])
    const mapping = await mapper.map({ protocol: 'tcp', internalPort: 4700 })
    expect(mapping.method).toBe('nat-pmp')
    expect(mapping.external).toEqual({ host: '203.0.113.9', port: 4700 })
    await mapping.release()
    expect(gw.mappings.size).toBe(0)
  })

  it('says what every method answered when all fail', async () => {
    const gw = await fake()
    gw.refuseWith = 4
    const mapper = new PortMapper([clients.pcp(gw.port), clients['nat-pmp'](await closedPort())])
    const err = await mapper.map({ protocol: 'tcp', internalPort: 4800 }).catch((e) => e)
    expect(err).toMatchObject({ code: 'PORTMAP_FAILED' })
    expect(err.message).toMatch(/pcp: .*UNSUPP_OPCODE.*nat-pmp: .*ECONNREFUSED/)
    expect((err.cause as AggregateError).errors).toHaveLength(2)
  })

  it('renews at half the lifetime, reports a moved port, and reports loss on expiry', async () => {
    const gw = await fake({ maxLifetime: 2 })
    const mapping = await new PortMapper([clients.pcp(gw.port)]).map({
      protocol: 'tcp',
      internalPort: 4900,
    })
    expect(mapping.grant.lifetimeSeconds).toBe(2)
    // The gateway "restarts" and hands out another port: the renewal at ~1 s must notice.
    gw.mappings.clear()
    const taken = gw as unknown as { options: { taken: number[] } }
    taken.options.taken = [4900]
    const moved = await new Promise<number>((resolve) =>
      mapping.once('change', (g) => resolve(g.externalPort)),
    )
    expect(moved).toBe(4901)
    gw.silent = true
    const lost = await new Promise<PortMapError>((resolve) => mapping.once('lost', resolve))
    expect(lost.code).toBe('PORTMAP_LOST')
    await mapping.release() // already lost: nothing to send, resolves
  }, 15_000)

  it('does not renew a permanent grant (lifetime 0), and any MappingClient plugs in', async () => {
    let calls = 0
    const permanent = {
      method: 'test-double',
      async map() {
        calls++
        return {
          method: 'upnp' as const,
          protocol: 'tcp' as const,
          gateway: '127.0.0.1',
          internalAddress: '127.0.0.1',
          internalPort: 5100,
          externalAddress: '203.0.113.9',
          externalPort: 5100,
          lifetimeSeconds: 0,
        }
      },
      async unmap() {},
    }
    const mapping = await new PortMapper([permanent]).map({ protocol: 'tcp', internalPort: 5100 })
    await new Promise((r) => setTimeout(r, 1500))
    expect(calls).toBe(1)
    await mapping.release()
  })
})
