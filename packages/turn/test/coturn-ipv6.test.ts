// Our clients against coturn listening on ::1 with an IPv6 and an IPv4 relay: the relayed
// family asked with REQUESTED-ADDRESS-FAMILY, 443 across families, TCP allocations over IPv6.
// A missing coturn fails these tests (never a skip).
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnClient, type TurnServerConfig } from '../src/index.js'
import { roundTrip } from './helpers.js'
import { expectIpv6TcpRelay } from './tcp-helpers.js'

describe('our clients against coturn on ::1', () => {
  let coturn: Coturn
  const closers: Array<() => Promise<unknown>> = []
  const config = (): TurnServerConfig => ({
    host: '::1',
    port: coturn.port,
    username: coturn.user,
    password: coturn.password,
  })

  beforeAll(async () => {
    coturn = await startCoturn({
      host: '::1',
      altHost: '127.0.0.1',
      relayHosts: ['::1', '127.0.0.1'],
    })
  })
  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {})
    await coturn?.stop()
  })

  const allocate = async (family?: 6) => {
    const c = await TurnClient.allocate(config(), {
      timeoutMs: 5000,
      ...(family ? { addressFamily: family } : {}),
    })
    closers.push(() => c.close())
    return c
  }

  it('IPv6 relays on request, IPv4 by default; relays between IPv6 allocations', async () => {
    const [a, b, v4] = await Promise.all([allocate(6), allocate(6), allocate()])
    expect(a.relayed).toMatchObject({ family: 6, host: '::1' })
    expect(a.mapped).toMatchObject({ host: '::1', port: a.local.port })
    expect(v4.relayed).toMatchObject({ family: 4, host: '127.0.0.1' })
    await roundTrip(a, b, 'channel')
    const [c, d] = await Promise.all([allocate(6), allocate(6)])
    await roundTrip(c, d, 'indication')
  })

  it('a peer of the other family is refused with TURN_PEER_ADDRESS_FAMILY (443)', async () => {
    const [a, v4] = await Promise.all([allocate(6), allocate()])
    await expect(a.createPermission(v4.relayed)).rejects.toMatchObject({
      code: 'TURN_PEER_ADDRESS_FAMILY',
      errorCode: 443,
    })
  })

  it('a TCP allocation over IPv6 relays to an IPv6 TCP peer', async () => {
    await expectIpv6TcpRelay({ ...config(), transport: 'tcp' }, (f) => closers.push(f))
  })
})
