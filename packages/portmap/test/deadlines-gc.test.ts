import { TimeoutError } from '@p2pd/interface'
import { FakeGateway } from '@p2pd/testkit/fake-gateway'
import { underGc } from '@p2pd/testkit/gc'
import { afterEach, describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { PortMapper } from '../src/mapper.js'
import { natPmpClient } from '../src/natpmp-client.js'
import { pcpClient } from '../src/pcp-client.js'
import type { MappingClient, MappingGrant } from '../src/types.js'
import { upnpClient } from '../src/upnp/client.js'
import { startFakeIgd } from './helpers/fake-igd.js'

/** Settled no sooner than `ms`, and within the bound. */
function expectOnTime(r: { ms: number; limitMs: number }, ms: number): void {
  expect(r.ms).toBeGreaterThanOrEqual(ms - 5)
  expect(r.ms).toBeLessThanOrEqual(r.limitMs)
}

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c()
})

async function silentGateway(): Promise<FakeGateway> {
  const gw = await FakeGateway.start()
  gw.silent = true
  cleanup.push(() => gw.close())
  return gw
}

describe('port-mapping deadlines survive garbage collection', () => {
  for (const [method, make] of [
    ['pcp', pcpClient],
    ['nat-pmp', natPmpClient],
  ] as const) {
    it(`a ${method} request to a silent gateway fails with PORTMAP_NO_REPLY on time`, async () => {
      const gw = await silentGateway()
      const client = make({ gateway: '127.0.0.1', port: gw.port })
      const r = await underGc(1000, () =>
        client.map({
          protocol: 'udp',
          internalPort: 4000,
          timeoutMs: 1000,
          signal: new AbortController().signal,
        }),
      )
      expect(r.err).toBeInstanceOf(PortMapError)
      expect((r.err as PortMapError).code).toBe('PORTMAP_NO_REPLY')
      expect((r.err as PortMapError).cause).toBeInstanceOf(TimeoutError)
      expectOnTime(r, 1000)
    })
  }

  it('a UPnP SOAP request to a gateway that stops answering times out on time', async () => {
    const igd = await startFakeIgd()
    cleanup.push(() => igd.close())
    const client = upnpClient({ location: igd.location })
    cleanup.push(() => client.close())
    await client.externalAddress() // the description is read and cached
    igd.hang = true
    const r = await underGc(1000, () =>
      client.map({
        protocol: 'tcp',
        internalPort: 4000,
        timeoutMs: 1000,
        signal: new AbortController().signal,
      }),
    )
    expect(r.err).toBeInstanceOf(TimeoutError)
    expectOnTime(r, 1000)
  })

  it('the mapper settles at its overall deadline, before the methods’ own', async () => {
    const gw = await silentGateway()
    const mapper = new PortMapper([
      pcpClient({ gateway: '127.0.0.1', port: gw.port }),
      natPmpClient({ gateway: '127.0.0.1', port: gw.port }),
    ])
    cleanup.push(() => mapper.close())
    const r = await underGc(1000, () =>
      mapper.map({
        protocol: 'tcp',
        internalPort: 4000,
        timeoutMs: 1000,
        methodTimeoutMs: 5000,
        signal: new AbortController().signal,
      }),
    )
    expect(r.err).toBeInstanceOf(TimeoutError)
    // It still says what the method in flight had to say.
    expect((r.err as Error).message).toMatch(/^port mapping timed out after 1000 ms: pcp: /)
    expectOnTime(r, 1000)
  })

  it('a method that ignores its signal cannot hold the mapper; its late grant is deleted', async () => {
    const grant: MappingGrant = {
      method: 'pcp',
      protocol: 'tcp',
      gateway: '127.0.0.1',
      internalAddress: '127.0.0.1',
      internalPort: 4000,
      externalAddress: '203.0.113.9',
      externalPort: 4000,
      lifetimeSeconds: 600,
    }
    const deleted: MappingGrant[] = []
    const stubborn: MappingClient = {
      method: 'stubborn',
      // Deaf to its signal: grants after 1.5 s whatever happens.
      map: () => new Promise((resolve) => setTimeout(() => resolve(grant), 1500)),
      unmap: async (g) => {
        deleted.push(g)
      },
    }
    const r = await underGc(1000, () =>
      new PortMapper([stubborn]).map({
        protocol: 'tcp',
        internalPort: 4000,
        timeoutMs: 1000,
        methodTimeoutMs: 5000,
      }),
    )
    expect(r.err).toBeInstanceOf(TimeoutError)
    expectOnTime(r, 1000)
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(deleted).toEqual([grant])
  })
})
