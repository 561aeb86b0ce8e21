// Our TURN client against coturn (Debian `coturn`), the reference server. A missing coturn
// fails these tests (never a skip).
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnClient, TurnError, type TurnServerConfig } from '../src/index.js'
import { roundTrip } from './helpers.js'

describe('TURN client against coturn', () => {
  let coturn: Coturn
  const clients: TurnClient[] = []
  const config = (transport: 'udp' | 'tcp'): TurnServerConfig => ({
    host: coturn.host,
    port: coturn.port,
    transport,
    username: coturn.user,
    password: coturn.password,
  })
  const allocate = async (transport: 'udp' | 'tcp') => {
    const c = await TurnClient.allocate(config(transport), { timeoutMs: 5000 })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    coturn = await startCoturn({ tls: true })
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await coturn?.stop()
  })

  it('allocates over UDP with long-term credentials (401 → signed retry)', async () => {
    const c = await allocate('udp')
    expect(c.relayed.host).toBe(coturn.host)
    expect(c.relayed.port).toBeGreaterThan(0)
    expect(c.mapped?.port).toBe(c.local.port)
    expect(c.realm).toBe(coturn.realm)
    expect(c.lifetimeSec).toBeGreaterThan(0)
  })

  it('relays between two allocations: channels over UDP, indications over TCP', async () => {
    const [a, b] = await Promise.all([allocate('udp'), allocate('udp')])
    await roundTrip(a, b, 'channel')
    expect(a.stats.sentChannelData).toBeGreaterThan(0)
    const [c, d] = await Promise.all([allocate('tcp'), allocate('tcp')])
    await roundTrip(c, d, 'indication')
    expect(c.stats.sentIndications).toBeGreaterThan(0)
    expect(d.stats.receivedIndications).toBeGreaterThan(0)
  })

  it('ChannelData over TCP (padded) between a TCP and a UDP allocation', async () => {
    const [a, b] = await Promise.all([allocate('tcp'), allocate('udp')])
    await roundTrip(a, b, 'channel')
    expect(a.stats.receivedChannelData).toBeGreaterThan(0)
  })

  it('allocates and relays over TLS (certificate checked against the test CA)', async () => {
    const tls = coturn.tls as { port: number; cert: string }
    const viaTls = await TurnClient.allocate(
      { ...config('udp'), transport: 'tls', port: tls.port, tls: { ca: tls.cert } },
      { timeoutMs: 5000 },
    )
    clients.push(viaTls)
    expect(viaTls.transport).toBe('tls')
    expect(viaTls.relayed.host).toBe(coturn.host)
    const peer = await allocate('udp')
    await roundTrip(viaTls, peer, 'channel')
    expect(viaTls.stats.receivedChannelData).toBeGreaterThan(0)
    // Without the CA the server's certificate is not trusted: a typed error, no allocation.
    const err = await TurnClient.allocate(
      { ...config('udp'), transport: 'tls', port: tls.port },
      { timeoutMs: 5000 },
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TurnError)
  })

  it('refuses wrong credentials with a typed error', async () => {
    const err = await TurnClient.allocate(
      { ...config('udp'), password: 'wrong' },
      { timeoutMs: 5000 },
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TurnError)
    expect((err as TurnError).code).toBe('TURN_UNAUTHORIZED')
  })

  it('deallocates on close (a refresh after close is refused)', async () => {
    const c = await allocate('udp')
    await c.close()
    await expect(c.refresh()).rejects.toMatchObject({ code: 'TURN_CLOSED' })
  })
})
