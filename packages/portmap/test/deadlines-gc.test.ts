import { TimeoutError } from '@p2pd/interface'
import { FakeGateway } from '@p2pd/testkit/fake-gateway'
import { afterEach, describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { PortMapper } from '../src/mapper.js'
import { natPmpClient } from '../src/natpmp-client.js'
import { pcpClient } from '../src/pcp-client.js'
import { upnpClient } from '../src/upnp/client.js'
import { startFakeIgd } from './helpers/fake-igd.js'

// vitest runs with --expose-gc: deadlines must fire through full collections.
const gc = (globalThis as { gc?: () => void }).gc as () => void

/** Runs `work` while forcing a full GC every 50 ms; returns how it settled and when. */
async function underGc(work: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const timer = setInterval(gc, 50)
  const t0 = performance.now()
  try {
    await work()
    return { err: undefined, ms: performance.now() - t0 }
  } catch (err) {
    return { err, ms: performance.now() - t0 }
  } finally {
    clearInterval(timer)
  }
}

/** Settled no sooner than `ms` and no later than `ms` + 10 % + 100 ms (a loaded machine runs other test files beside). */
function expectOnTime(r: { ms: number }, ms: number): void {
  expect(r.ms).toBeGreaterThanOrEqual(ms - 5)
  expect(r.ms).toBeLessThanOrEqual(ms * 1.1 + 100)
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
      const r = await underGc(() =>
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
    const r = await underGc(() =>
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
    const r = await underGc(() =>
      mapper.map({
        protocol: 'tcp',
        internalPort: 4000,
        timeoutMs: 1000,
        methodTimeoutMs: 5000,
        signal: new AbortController().signal,
      }),
    )
    expect(r.err).toBeInstanceOf(TimeoutError)
    expectOnTime(r, 1000)
  })
})
