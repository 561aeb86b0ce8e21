import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import {
  classifyPeer,
  TurnClient,
  type TurnClientOptions,
  TurnError,
  TurnServer,
  type TurnServerOptions,
} from '../src/index.js'
import { roundTrip } from './helpers.js'

const users = { alice: 'wonderland', bob: 'builder' }
const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  // Newest first: clients deallocate before their server goes away.
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {})
})

async function server(opts: Partial<TurnServerOptions> = {}): Promise<TurnServer> {
  const s = new TurnServer({ users, allowLoopbackPeers: true, ...opts })
  await s.start()
  cleanup.push(() => s.close())
  return s
}

async function client(
  s: TurnServer,
  user: keyof typeof users = 'alice',
  opts: TurnClientOptions = {},
): Promise<TurnClient> {
  const c = await TurnClient.allocate(
    { host: s.address.host, port: s.address.port, username: user, password: users[user] },
    { timeoutMs: 3000, rtoMs: 100, ...opts },
  )
  cleanup.push(() => c.close())
  return c
}

describe('TurnServer with our client', () => {
  it('allocates, relays over channels and over indications, deallocates on close', async () => {
    const s = await server()
    const [a, b] = await Promise.all([client(s), client(s, 'bob')])
    expect(s.allocationCount).toBe(2)
    expect(a.relayed.host).toBe('127.0.0.1')
    expect(a.mapped?.port).toBe(a.local.port)
    await roundTrip(a, b, 'indication')
    const [c, d] = await Promise.all([client(s), client(s, 'bob')])
    await roundTrip(c, d, 'channel')
    expect(c.stats.sentChannelData).toBe(1)
    expect(d.stats.receivedChannelData).toBe(1)
    await Promise.all([a.close(), b.close(), c.close(), d.close()])
    expect(s.allocationCount).toBe(0)
  })

  it('offers SHA-256: the client switches to MESSAGE-INTEGRITY-SHA256', async () => {
    const s = await server({ offerSha256: true })
    const [a, b] = await Promise.all([client(s), client(s, 'bob')])
    expect(a.passwordAlgorithm).toBe('sha256')
    await roundTrip(a, b, 'channel')
  })

  it('stale nonce (438): the client retries with the fresh nonce', async () => {
    const s = await server({ nonceTtlMs: 200 })
    const a = await client(s)
    await new Promise((r) => setTimeout(r, 300))
    await expect(a.refresh({ lifetimeSec: 300 })).resolves.toBe(300)
  })

  it('wrong password: TURN_UNAUTHORIZED; unknown user too', async () => {
    const s = await server()
    const err = await TurnClient.allocate(
      { host: s.address.host, port: s.address.port, username: 'alice', password: 'x' },
      { timeoutMs: 3000 },
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TurnError)
    expect((err as TurnError).code).toBe('TURN_UNAUTHORIZED')
    expect((err as TurnError).errorCode).toBe(401)
  })

  it('quotas: 486 per user, 508 in total', async () => {
    const s = await server({ maxAllocationsPerUser: 1, maxAllocations: 2 })
    await client(s, 'alice')
    await expect(client(s, 'alice')).rejects.toMatchObject({ code: 'TURN_QUOTA', errorCode: 486 })
    await client(s, 'bob')
    await expect(client(s, 'bob')).rejects.toMatchObject({ code: 'TURN_CAPACITY', errorCode: 508 })
  })

  it('refuses loopback and private peers unless allowed (403)', async () => {
    const s = await server({ allowLoopbackPeers: false })
    const a = await client(s)
    await expect(a.createPermission({ host: '127.0.0.1', port: 1 })).rejects.toMatchObject({
      code: 'TURN_FORBIDDEN',
      errorCode: 403,
    })
    await expect(a.bindChannel({ host: '192.168.1.1', port: 1 })).rejects.toMatchObject({
      code: 'TURN_FORBIDDEN',
    })
    expect(classifyPeer('10.1.2.3')).toBe('private')
    expect(classifyPeer('::ffff:127.0.0.1')).toBe('loopback')
    expect(classifyPeer('8.8.8.8')).toBe('public')
    expect(classifyPeer('0.0.0.0')).toBe('never')
  })

  it('refreshes the allocation, permissions and channels before they expire', async () => {
    const s = await server({
      defaultLifetimeSec: 2,
      maxLifetimeSec: 2,
      permissionLifetimeMs: 800,
      channelLifetimeMs: 1200,
    })
    const opts = { permissionRefreshMs: 400, channelRefreshMs: 600, lifetimeSec: 2 }
    const [a, b] = await Promise.all([client(s, 'alice', opts), client(s, 'bob', opts)])
    expect(a.lifetimeSec).toBe(2)
    await Promise.all([a.bindChannel(b.relayed), b.bindChannel(a.relayed)])
    const kinds = new Set<string>()
    a.on('refresh', (k) => kinds.add(k))
    // Well past the lifetimes: still allocated, still relaying.
    await new Promise((r) => setTimeout(r, 3000))
    expect(a.stats.allocationRefreshes).toBeGreaterThanOrEqual(2)
    expect(a.stats.permissionRefreshes).toBeGreaterThanOrEqual(5)
    expect(a.stats.channelRefreshes).toBeGreaterThanOrEqual(3)
    expect([...kinds].sort()).toEqual(['allocation', 'channel', 'permission'])
    await roundTrip(a, b, 'channel')
    expect(s.allocationCount).toBe(2)
  })

  it('server restart: the client detects the dead allocation (437 → TURN_ALLOCATION_LOST)', async () => {
    const s = await server({ defaultLifetimeSec: 2, maxLifetimeSec: 2 })
    const a = await client(s, 'alice', { lifetimeSec: 2 })
    const port = s.address.port
    await s.close()
    const restarted = await server({ port, defaultLifetimeSec: 2 })
    expect(restarted.address.port).toBe(port)
    const [err] = (await once(a, 'lost', { signal: AbortSignal.timeout(4000) })) as [TurnError]
    expect(err).toBeInstanceOf(TurnError)
    expect(err.code).toBe('TURN_ALLOCATION_LOST')
    expect(err.errorCode).toBe(437)
    expect(a.closed).toBe(true)
    // A direct refresh on a fresh client of the dead server times out with a typed error.
    const b = await client(restarted)
    await restarted.close()
    await expect(b.refresh({ signal: AbortSignal.timeout(500) })).rejects.toMatchObject({
      code: 'TIMEOUT',
    })
  })
})
