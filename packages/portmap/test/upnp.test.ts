import { createServer, type Server, type Socket } from 'node:net'
import { AbortError, TimeoutError } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { type UpnpClient, upnpClient } from '../src/upnp/client.js'
import { discoverIgd } from '../src/upnp/ssdp.js'
import {
  type FakeIgd,
  type FakeIgdOptions,
  IGD2_WANIP,
  type SsdpReply,
  soapResponse,
  ssdpAnswer,
  startFakeIgd,
  startFakeSsdp,
} from './helpers/fake-igd.js'

/**
 * How late a plain timer of `ms`, started now, fires: the machine's own lateness (a loaded CI
 * box), allowed on top of a deadline's bound.
 */
function timerLateness(ms: number): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve) =>
    setTimeout(() => resolve(Math.max(0, performance.now() - t0 - ms)), ms),
  )
}

// Network safety: every client here has a loopback `location` or a loopback `ssdpTarget`, so
// nothing is multicast and no real gateway is ever contacted.

const IGD1 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1'
const IGD2 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:2'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function fakeIgd(options?: FakeIgdOptions): Promise<FakeIgd> {
  const igd = await startFakeIgd(options)
  cleanup.push(() => igd.close())
  return igd
}

function client(igd: FakeIgd | string, extra: Parameters<typeof upnpClient>[0] = {}): UpnpClient {
  const c = upnpClient({
    location: typeof igd === 'string' ? igd : igd.location,
    localAddress: '127.0.0.1',
    ...extra,
  })
  cleanup.push(() => c.close())
  return c
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(Error)
  return err as Error
}

async function portMapError(p: Promise<unknown>, code: string): Promise<PortMapError> {
  const err = await rejection(p)
  expect(err).toBeInstanceOf(PortMapError)
  expect((err as PortMapError).code).toBe(code)
  return err as PortMapError
}

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<string> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as { port: number }
  return `http://127.0.0.1:${port}/rootDesc.xml`
}

describe('upnpClient against a fake IGD', () => {
  it('maps, renews and unmaps a TCP port', async () => {
    const igd = await fakeIgd()
    const c = client(igd)
    expect(c.method).toBe('upnp')
    const grant = await c.map({ protocol: 'tcp', internalPort: 4100, description: 'test & co' })
    expect(grant).toEqual({
      method: 'upnp',
      protocol: 'tcp',
      gateway: '127.0.0.1',
      internalAddress: '127.0.0.1',
      internalPort: 4100,
      externalAddress: '198.51.100.7',
      externalPort: 4100,
      lifetimeSeconds: 7200,
    })
    expect(igd.mappings.get('TCP 4100')).toEqual({
      protocol: 'TCP',
      externalPort: 4100,
      internalClient: '127.0.0.1',
      internalPort: 4100,
      description: 'test & co',
      lease: 7200,
    })
    const add = igd.actions.find((a) => a.action === 'AddPortMapping')!
    expect(add.soapAction).toBe('"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"')
    expect(add.contentType).toBe('text/xml; charset="utf-8"')
    expect([...add.args.keys()]).toEqual([
      'NewRemoteHost',
      'NewExternalPort',
      'NewProtocol',
      'NewInternalPort',
      'NewInternalClient',
      'NewEnabled',
      'NewPortMappingDescription',
      'NewLeaseDuration',
    ])
    expect(add.args.get('NewEnabled')).toBe('1')

    // Renewing is the same request again; the description is read once.
    const again = await c.map({ protocol: 'tcp', internalPort: 4100, lifetimeSeconds: 600 })
    expect(again.lifetimeSeconds).toBe(600)
    expect(igd.mappings.get('TCP 4100')?.lease).toBe(600)
    expect(igd.descriptionFetches).toBe(1)

    await c.unmap(grant)
    expect(igd.mappings.size).toBe(0)
    // Already gone (714) is fine.
    await c.unmap(grant)
    expect(igd.actions.slice(-3).map((a) => a.action)).toEqual([
      'GetSpecificPortMappingEntry',
      'DeletePortMapping',
      'GetSpecificPortMappingEntry',
    ])
  })

  it('does not delete an entry that now forwards to another port of ours', async () => {
    const igd = await fakeIgd()
    const c = client(igd)
    const first = await c.map({ protocol: 'tcp', internalPort: 4100 })
    // Same host, same external port: the gateway overwrites the entry, no conflict.
    const second = await c.map({ protocol: 'tcp', internalPort: 4101, suggestedExternalPort: 4100 })
    expect(second.externalPort).toBe(4100)
    await c.unmap(first)
    expect(igd.mappings.get('TCP 4100')?.internalPort).toBe(4101)
    await c.unmap(second)
    expect(igd.mappings.size).toBe(0)
  })

  it('deletes anyway when the gateway cannot look the entry up', async () => {
    const igd = await fakeIgd()
    const c = client(igd)
    const grant = await c.map({ protocol: 'udp', internalPort: 4100 })
    igd.failNext('GetSpecificPortMappingEntry', 401)
    await c.unmap(grant)
    expect(igd.mappings.size).toBe(0)
  })

  it('maps UDP to a suggested external port and learns our address when not given', async () => {
    const igd = await fakeIgd()
    const c = upnpClient({ location: igd.location })
    cleanup.push(() => c.close())
    const grant = await c.map({ protocol: 'udp', internalPort: 5000, suggestedExternalPort: 6000 })
    expect(grant).toMatchObject({ internalAddress: '127.0.0.1', externalPort: 6000 })
    expect(igd.mappings.get('UDP 6000')).toMatchObject({ internalPort: 5000 })
    expect(await c.externalAddress()).toBe('198.51.100.7')
  })

  it('retries a conflict (718) with a random port on IGD:1', async () => {
    const igd = await fakeIgd()
    igd.mappings.set('TCP 4100', {
      protocol: 'TCP',
      externalPort: 4100,
      internalClient: '10.9.9.9',
      internalPort: 22,
      description: 'someone else',
      lease: 0,
    })
    const grant = await client(igd).map({ protocol: 'tcp', internalPort: 4100 })
    expect(grant.externalPort).not.toBe(4100)
    expect(grant.externalPort).toBeGreaterThanOrEqual(1024)
    expect(igd.mappings.get(`TCP ${grant.externalPort}`)).toMatchObject({ internalPort: 4100 })
    expect(igd.actions.filter((a) => a.action === 'AddPortMapping')).toHaveLength(2)
  })

  it('gives up after two more conflicts', async () => {
    const igd = await fakeIgd()
    for (let i = 0; i < 3; i++) igd.failNext('AddPortMapping', 718)
    const err = await portMapError(
      client(igd).map({ protocol: 'tcp', internalPort: 4100 }),
      'PORTMAP_REFUSED',
    )
    expect(err).toMatchObject({ resultCode: 718, resultName: 'ConflictInMappingEntry' })
    const ports = igd.actions.filter((a) => a.action === 'AddPortMapping')
    expect(ports).toHaveLength(3)
    expect(new Set(ports.map((a) => a.args.get('NewExternalPort'))).size).toBe(3)
  })

  it('uses AddAnyPortMapping after a conflict on IGD:2', async () => {
    const igd = await fakeIgd({ serviceType: IGD2_WANIP })
    igd.mappings.set('UDP 4100', {
      protocol: 'UDP',
      externalPort: 4100,
      internalClient: '10.9.9.9',
      internalPort: 4100,
      description: '',
      lease: 0,
    })
    const grant = await client(igd).map({ protocol: 'udp', internalPort: 4100 })
    expect(grant.externalPort).toBe(50_000)
    expect(igd.actions.map((a) => a.action)).toEqual([
      'GetExternalIPAddress',
      'AddPortMapping',
      'AddAnyPortMapping',
    ])
  })

  it('falls back to a random port when AddAnyPortMapping is not implemented', async () => {
    const igd = await fakeIgd({ serviceType: IGD2_WANIP })
    igd.failNext('AddPortMapping', 718)
    igd.failNext('AddAnyPortMapping', 401)
    const grant = await client(igd).map({ protocol: 'udp', internalPort: 4100 })
    expect(grant.externalPort).not.toBe(4100)
    expect(igd.actions.map((a) => a.action)).toEqual([
      'GetExternalIPAddress',
      'AddPortMapping',
      'AddAnyPortMapping',
      'AddPortMapping',
    ])
  })

  it('rejects a bad NewReservedPort as PORTMAP_BAD_GRANT', async () => {
    const igd = await fakeIgd({ serviceType: IGD2_WANIP })
    igd.failNext('AddPortMapping', 718)
    igd.rawNext(
      'AddAnyPortMapping',
      200,
      soapResponse(IGD2_WANIP, 'AddAnyPortMapping', [['NewReservedPort', '0']]),
    )
    await portMapError(
      client(igd).map({ protocol: 'udp', internalPort: 4100 }),
      'PORTMAP_BAD_GRANT',
    )
  })

  it('caps the reported lifetime at one week on IGD:2', async () => {
    const igd = await fakeIgd({ serviceType: IGD2_WANIP })
    const grant = await client(igd).map({
      protocol: 'tcp',
      internalPort: 80,
      lifetimeSeconds: 10 ** 6,
    })
    expect(grant.lifetimeSeconds).toBe(604_800)
  })

  it('falls back to a permanent lease on 725 and reports the requested lifetime', async () => {
    const igd = await fakeIgd({ permanentLeasesOnly: true })
    const grant = await client(igd).map({
      protocol: 'tcp',
      internalPort: 4100,
      lifetimeSeconds: 900,
    })
    expect(grant.lifetimeSeconds).toBe(900)
    expect(igd.mappings.get('TCP 4100')?.lease).toBe(0)
    expect(igd.actions.map((a) => a.args.get('NewLeaseDuration'))).toEqual([undefined, '900', '0'])
  })

  it('retries 724 SamePortValuesRequired with the internal port', async () => {
    const igd = await fakeIgd()
    igd.failNext('AddPortMapping', 724, 'SamePortValuesRequired')
    const grant = await client(igd).map({
      protocol: 'tcp',
      internalPort: 4100,
      suggestedExternalPort: 4200,
    })
    expect(grant.externalPort).toBe(4100)
  })

  it('reports other UPnP errors as PORTMAP_REFUSED with code and description', async () => {
    const igd = await fakeIgd()
    igd.failNext('AddPortMapping', 501, 'Action Failed')
    const err = await portMapError(
      client(igd).map({ protocol: 'tcp', internalPort: 4100 }),
      'PORTMAP_REFUSED',
    )
    expect(err).toMatchObject({ resultCode: 501, resultName: 'Action Failed' })
    expect(igd.mappings.size).toBe(0)

    igd.mappings.set('TCP 1', {
      protocol: 'TCP',
      externalPort: 1,
      internalClient: '127.0.0.1',
      internalPort: 1,
      description: '',
      lease: 0,
    })
    igd.failNext('DeletePortMapping', 606)
    const del = await portMapError(
      client(igd).unmap({
        method: 'upnp',
        protocol: 'tcp',
        gateway: '127.0.0.1',
        internalAddress: '127.0.0.1',
        internalPort: 1,
        externalAddress: '198.51.100.7',
        externalPort: 1,
        lifetimeSeconds: 1,
      }),
      'PORTMAP_REFUSED',
    )
    expect(del.resultCode).toBe(606)
  })

  it('refuses secure-mode violations (606) when localAddress is wrong', async () => {
    const igd = await fakeIgd()
    const err = await portMapError(
      client(igd, { localAddress: '127.0.0.2' }).map({ protocol: 'tcp', internalPort: 4100 }),
      'PORTMAP_REFUSED',
    )
    expect(err.resultCode).toBe(606)
  })

  it.each([
    ['', 'PORTMAP_BAD_GRANT'],
    ['0.0.0.0', 'PORTMAP_BAD_GRANT'],
    ['not-an-ip', 'PORTMAP_MALFORMED'],
  ])('rejects external address "%s" with %s and maps nothing', async (address, code) => {
    const igd = await fakeIgd({ externalAddress: address })
    await portMapError(client(igd).map({ protocol: 'tcp', internalPort: 4100 }), code)
    expect(igd.actions.map((a) => a.action)).toEqual(['GetExternalIPAddress'])
  })

  it('treats an HTTP 500 without a fault as PORTMAP_MALFORMED and another status as PORTMAP_NETWORK', async () => {
    const igd = await fakeIgd()
    igd.rawNext('GetExternalIPAddress', 500, '<html>oops</html>')
    await portMapError(client(igd).externalAddress(), 'PORTMAP_MALFORMED')
    igd.rawNext('GetExternalIPAddress', 403, 'forbidden')
    await portMapError(client(igd).externalAddress(), 'PORTMAP_NETWORK')
    igd.rawNext('GetExternalIPAddress', 200, '<s:Envelope><s:Body><oops/></s:Body></s:Envelope>')
    await portMapError(client(igd).externalAddress(), 'PORTMAP_MALFORMED')
  })

  it('rejects a malformed description', async () => {
    for (const [description, code] of [
      ['<root><device></root>', 'PORTMAP_MALFORMED'],
      ['<root><device/></root>', 'PORTMAP_NO_DEVICE'],
      ['<a>'.repeat(1000), 'PORTMAP_MALFORMED'],
    ] as const) {
      const igd = await fakeIgd({ description })
      await portMapError(client(igd).map({ protocol: 'tcp', internalPort: 1 }), code)
    }
  })

  it('resolves the control URL against URLBase', async () => {
    const igd = await fakeIgd()
    const other = await fakeIgd({ urlBase: `http://127.0.0.1:${igd.port}/` })
    // The description comes from `other`, the control requests go to `igd`.
    const grant = await client(other).map({ protocol: 'tcp', internalPort: 4100 })
    expect(grant.externalPort).toBe(4100)
    expect(igd.mappings.size).toBe(1)
    expect(other.mappings.size).toBe(0)
  })

  it('rereads the description once after the control endpoint went away', async () => {
    const first = await fakeIgd()
    const c = client(first)
    await c.externalAddress()
    expect(first.descriptionFetches).toBe(1)
    // Next call: the cached control URL answers 404, the description is read again, then OK.
    const { controlPath } = first
    Object.assign(first, { controlPath: '/moved' })
    await portMapError(c.externalAddress(), 'PORTMAP_NETWORK')
    expect(first.descriptionFetches).toBe(2)
    Object.assign(first, { controlPath })
    expect(await c.externalAddress()).toBe('198.51.100.7')
    expect(first.descriptionFetches).toBe(3)
  })

  it('bounds the response body size', async () => {
    const igd = await fakeIgd({ description: `<root>${' '.repeat(300 * 1024)}</root>` })
    const err = await portMapError(
      client(igd).map({ protocol: 'tcp', internalPort: 1 }),
      'PORTMAP_MALFORMED',
    )
    expect(err.message).toMatch(/exceeds 262144/)
  })

  it('fails with PORTMAP_NETWORK when nothing listens', async () => {
    const igd = await fakeIgd()
    const { location } = igd
    await igd.close()
    await portMapError(
      client(location).map({ protocol: 'tcp', internalPort: 1 }),
      'PORTMAP_NETWORK',
    )
  })
})

describe('deadlines, aborts and close', () => {
  it('times out within the deadline when the server never answers', async () => {
    const location = await silentServer()
    const late = timerLateness(300)
    const started = performance.now()
    const err = await rejection(
      client(location).map({ protocol: 'tcp', internalPort: 1, timeoutMs: 300 }),
    )
    expect(err).toBeInstanceOf(TimeoutError)
    expect(performance.now() - started).toBeLessThan(800 + (await late))
  })

  it('times out when the control endpoint hangs', async () => {
    const igd = await fakeIgd()
    const c = client(igd)
    await c.externalAddress()
    igd.hang = true
    const err = await rejection(
      c.unmap(
        {
          method: 'upnp',
          protocol: 'udp',
          gateway: '127.0.0.1',
          internalAddress: '127.0.0.1',
          internalPort: 1,
          externalAddress: '198.51.100.7',
          externalPort: 1,
          lifetimeSeconds: 1,
        },
        { timeoutMs: 200 },
      ),
    )
    expect(err).toBeInstanceOf(TimeoutError)
  })

  it('aborts through the signal', async () => {
    const location = await silentServer()
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const err = await rejection(
      client(location).map({ protocol: 'tcp', internalPort: 1, signal: ac.signal }),
    )
    expect(err).toBeInstanceOf(AbortError)
    const pre = new AbortController()
    pre.abort()
    expect(
      await rejection(client(location).externalAddress({ signal: pre.signal })),
    ).toBeInstanceOf(AbortError)
  })

  it('close() aborts calls in flight and fails later ones', async () => {
    const location = await silentServer()
    const c = client(location)
    const pending = rejection(c.map({ protocol: 'tcp', internalPort: 1 }))
    await new Promise((r) => setTimeout(r, 50))
    c.close()
    c.close()
    const err = await pending
    expect(err).toBeInstanceOf(AbortError)
    expect(err.message).toMatch(/closed/)
    expect(await rejection(c.externalAddress())).toBeInstanceOf(AbortError)
  })
})

describe('argument validation', () => {
  const c = () => client('http://127.0.0.1:9/rootDesc.xml')

  it.each([
    [{ protocol: 'sctp', internalPort: 1 }],
    [{ protocol: 'tcp', internalPort: 0 }],
    [{ protocol: 'tcp', internalPort: 65536 }],
    [{ protocol: 'tcp', internalPort: 1.5 }],
    [{ protocol: 'tcp', internalPort: 1, suggestedExternalPort: -1 }],
    [{ protocol: 'tcp', internalPort: 1, lifetimeSeconds: -1 }],
    [{ protocol: 'tcp', internalPort: 1, lifetimeSeconds: 2 ** 32 }],
    [{ protocol: 'tcp', internalPort: 1, description: 'bell\u0007' }],
    [{ protocol: 'tcp', internalPort: 1, description: 'x'.repeat(257) }],
    [{ protocol: 'tcp', internalPort: 1, timeoutMs: 0 }],
  ])('map(%o) is PORTMAP_BAD_ARGUMENT', async (request) => {
    await portMapError(c().map(request as never), 'PORTMAP_BAD_ARGUMENT')
  })

  it('unmap checks the grant', async () => {
    const grant = {
      method: 'pcp',
      protocol: 'tcp',
      gateway: '127.0.0.1',
      internalAddress: '127.0.0.1',
      internalPort: 1,
      externalAddress: '198.51.100.7',
      externalPort: 1,
      lifetimeSeconds: 1,
    } as const
    await portMapError(c().unmap(grant), 'PORTMAP_BAD_ARGUMENT')
    await portMapError(
      c().unmap({ ...grant, method: 'upnp', externalPort: 0 }),
      'PORTMAP_BAD_ARGUMENT',
    )
  })

  it.each([
    [{ location: 'ftp://x/' }],
    [{ location: 'not a url' }],
    [{ gateway: 'router.local' }],
    [{ localAddress: '::1' }],
    [{ ssdpTimeoutMs: 0 }],
    [{ ssdpTarget: { host: '127.0.0.1', port: 0 } }],
    [{ description: '\u0000' }],
  ])('upnpClient(%o) is PORTMAP_BAD_ARGUMENT', (options) => {
    expect(() => upnpClient(options)).toThrow(
      expect.objectContaining({ code: 'PORTMAP_BAD_ARGUMENT' }),
    )
  })
})

describe('SSDP discovery on loopback', () => {
  async function fakeSsdp(reply: (search: string) => readonly SsdpReply[]) {
    const ssdp = await startFakeSsdp(reply)
    cleanup.push(() => ssdp.close())
    return ssdp
  }

  it('finds the IGD, skipping junk, and maps through it', async () => {
    const igd = await fakeIgd()
    const ssdp = await fakeSsdp((search) =>
      search.includes(IGD1)
        ? [
            { bytes: Buffer.from('junk\r\n\r\n') },
            { bytes: ssdpAnswer(igd.location, 'upnp:rootdevice') },
            { bytes: ssdpAnswer(igd.location, IGD1) },
          ]
        : [],
    )
    const c = upnpClient({
      ssdpTarget: ssdp.target,
      localAddress: '127.0.0.1',
      gateway: '127.0.0.1',
    })
    cleanup.push(() => c.close())
    const grant = await c.map({ protocol: 'tcp', internalPort: 4100 })
    expect(grant.externalPort).toBe(4100)
    expect(ssdp.searches[0]).toMatch(/^M-SEARCH \* HTTP\/1\.1\r\n/)
    expect(ssdp.searches[0]).toContain('MAN: "ssdp:discover"\r\nMX: 1\r\n')
    expect(ssdp.searches.some((s) => s.includes(`ST: ${IGD2}`))).toBe(true)
  })

  it('ignores answers from another host than the gateway, or pointing elsewhere', async () => {
    const igd = await fakeIgd()
    const elsewhere = igd.location.replace('127.0.0.1', '127.0.0.9')
    const ssdp = await fakeSsdp(() => [
      { bytes: ssdpAnswer(igd.location, IGD1), from: '127.0.0.3' },
      { bytes: ssdpAnswer(elsewhere, IGD1), from: '127.0.0.1' },
      { bytes: ssdpAnswer(igd.location, IGD1), from: '127.0.0.1' },
    ])
    const found = await discoverIgd({
      gateway: '127.0.0.1',
      target: ssdp.target,
      localAddress: '127.0.0.1',
      timeoutMs: 1000,
      signal: AbortSignal.timeout(2000),
    })
    expect(found).toMatchObject({ address: '127.0.0.1', st: IGD1 })
    expect(found.location.href).toBe(igd.location)
  })

  it('picks the local address toward the gateway when none is given', async () => {
    const igd = await fakeIgd()
    const ssdp = await fakeSsdp(() => [{ bytes: ssdpAnswer(igd.location, IGD2) }])
    const found = await discoverIgd({
      gateway: '127.0.0.1',
      target: ssdp.target,
      timeoutMs: 1000,
      signal: AbortSignal.timeout(2000),
    })
    expect(found.st).toBe(IGD2)
  })

  it('says PORTMAP_NO_DEVICE after the window, and resends within it', async () => {
    const ssdp = await fakeSsdp(() => [{ bytes: Buffer.from('HTTP/1.1 200 OK\r\n\r\n') }])
    const c = upnpClient({ ssdpTarget: ssdp.target, localAddress: '127.0.0.1', ssdpTimeoutMs: 300 })
    cleanup.push(() => c.close())
    const late = timerLateness(300)
    const started = performance.now()
    const err = await portMapError(c.map({ protocol: 'tcp', internalPort: 1 }), 'PORTMAP_NO_DEVICE')
    expect(performance.now() - started).toBeLessThan(600 + (await late))
    expect(err.message).toMatch(/dropped 6/)
    expect(err.cause).toBeInstanceOf(PortMapError)
    expect(ssdp.searches).toHaveLength(6)
  })

  it('is bounded by the request deadline', async () => {
    const ssdp = await fakeSsdp(() => [])
    const c = upnpClient({ ssdpTarget: ssdp.target, ssdpTimeoutMs: 5000 })
    cleanup.push(() => c.close())
    const err = await rejection(c.externalAddress({ timeoutMs: 200 }))
    expect(err).toBeInstanceOf(TimeoutError)
  })
})
