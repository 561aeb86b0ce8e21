// Our TurnServer and clients over IPv6 (loopback ::1 only): the relayed family asked with
// REQUESTED-ADDRESS-FAMILY, 440/443 as typed errors, the peer policy for IPv6 loopback, TCP
// allocations over IPv6, and stranger budgets kept per IPv6 /64.
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  encodeMessage,
  newTransactionId,
  StunClass,
  StunMethod,
} from '@p2pd/stun'
import { afterEach, describe, expect, it } from 'vitest'
import { LongTermAuth } from '../src/client/auth.js'
import { authenticatedRequest } from '../src/client/request.js'
import { openUdp } from '../src/client/transport.js'
import {
  TurnClient,
  type TurnClientOptions,
  TurnError,
  TurnServer,
  type TurnServerOptions,
  TurnTcpClient,
} from '../src/index.js'
import { relayHostsOf, sourceKey } from '../src/server/address-family.js'
import { roundTrip } from './helpers.js'
import { expectIpv6TcpRelay } from './tcp-helpers.js'

const users = { alice: 'wonderland', bob: 'builder' }
const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => {})
})

async function server(opts: Partial<TurnServerOptions> = {}): Promise<TurnServer> {
  const s = new TurnServer({ users, host: '::1', allowLoopbackPeers: true, ...opts })
  await s.start()
  cleanup.push(() => s.close())
  return s
}

async function client(
  s: TurnServer,
  opts: TurnClientOptions = {},
  user: keyof typeof users = 'alice',
): Promise<TurnClient> {
  const c = await TurnClient.allocate(
    { host: s.address.host, port: s.address.port, username: user, password: users[user] },
    { timeoutMs: 5000, rtoMs: 100, ...opts },
  )
  cleanup.push(() => c.close())
  return c
}

async function rejection(p: Promise<unknown>): Promise<TurnError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(TurnError)
  return err as TurnError
}

describe('TurnServer over IPv6', () => {
  it('listens on ::1, allocates IPv6 relays and relays both ways (indications, channels)', async () => {
    const s = await server({ relayHosts: ['::1'] })
    expect(s.address.host).toBe('::1')
    const [a, b] = await Promise.all([
      client(s, { addressFamily: 6 }),
      client(s, { addressFamily: 6 }, 'bob'),
    ])
    expect(a.relayed).toMatchObject({ family: 6, host: '::1' })
    expect(a.mapped).toMatchObject({ host: '::1', port: a.local.port })
    await roundTrip(a, b, 'indication')
    const [c, d] = await Promise.all([
      client(s, { addressFamily: 6 }),
      client(s, { addressFamily: 6 }, 'bob'),
    ])
    await roundTrip(c, d, 'channel')
    expect(c.stats.sentChannelData).toBe(1)
    expect(d.stats.receivedChannelData).toBe(1)
    await Promise.all([a.close(), b.close(), c.close(), d.close()])
    expect(s.allocationCount).toBe(0)
  })

  it('data from a plain IPv6 UDP peer reaches the client, and back', async () => {
    const s = await server({ relayHosts: ['::1'] })
    const a = await client(s, { addressFamily: 6 })
    const peer = createSocket('udp6')
    await new Promise<void>((r) => peer.bind(0, '::1', () => r()))
    cleanup.push(() => new Promise<void>((r) => peer.close(() => r())))
    const peerEp: Endpoint = { host: '::1', port: peer.address().port }
    await a.bindChannel(peerEp)
    const atPeer = once(peer, 'message')
    a.send(Buffer.from('to-peer'), peerEp)
    const [msg, rinfo] = (await atPeer) as [Buffer, { address: string; port: number }]
    expect(msg.toString()).toBe('to-peer')
    expect(rinfo).toMatchObject({ address: '::1', port: a.relayed.port })
    const atA = once(a, 'data')
    peer.send(Buffer.from('to-client'), a.relayed.port, '::1')
    const [data, from] = (await atA) as [Buffer, Endpoint]
    expect(data.toString()).toBe('to-client')
    expect(from).toEqual(peerEp)
  })

  it('without REQUESTED-ADDRESS-FAMILY the relay is IPv4; an IPv6-only relay answers 440', async () => {
    const dual = await server({ relayHosts: ['127.0.0.1', '::1'] })
    const v4 = await client(dual)
    expect(v4.relayed).toMatchObject({ family: 4, host: '127.0.0.1' })
    const v6 = await client(dual, { addressFamily: 6 })
    expect(v6.relayed).toMatchObject({ family: 6, host: '::1' })

    const only6 = await server({ relayHosts: ['::1'] })
    const err = await rejection(client(only6))
    expect(err.code).toBe('TURN_ADDRESS_FAMILY')
    expect(err.errorCode).toBe(440)
    const only4 = await server({ host: '127.0.0.1' })
    expect((await rejection(client(only4, { addressFamily: 6 }))).code).toBe('TURN_ADDRESS_FAMILY')
    expect(only4.allocationCount + only6.allocationCount).toBe(0)
  })

  it('a peer of the other family: 443 on CreatePermission and ChannelBind, nothing relayed', async () => {
    const s = await server({ relayHosts: ['127.0.0.1', '::1'] })
    const [v6, v4] = await Promise.all([client(s, { addressFamily: 6 }), client(s, {}, 'bob')])
    const perm = await rejection(v6.createPermission(v4.relayed))
    expect(perm.code).toBe('TURN_PEER_ADDRESS_FAMILY')
    expect(perm.errorCode).toBe(443)
    expect((await rejection(v6.bindChannel(v4.relayed))).code).toBe('TURN_PEER_ADDRESS_FAMILY')
    expect((await rejection(v4.createPermission(v6.relayed))).code).toBe('TURN_PEER_ADDRESS_FAMILY')
    // A Send indication across families is dropped, not relayed.
    const before = s.stats.relayedToPeers
    v6.send(Buffer.from('x'), v4.relayed)
    await new Promise((r) => setTimeout(r, 200))
    expect(s.stats.relayedToPeers).toBe(before)
  })

  it('IPv6 loopback and IPv4-mapped loopback peers only with allowLoopbackPeers', async () => {
    const s = await server({ relayHosts: ['::1'], allowLoopbackPeers: false })
    const a = await client(s, { addressFamily: 6 })
    for (const host of ['::1', '::ffff:127.0.0.1']) {
      expect((await rejection(a.createPermission({ host, port: 9 }))).code).toBe('TURN_FORBIDDEN')
    }
    // Documentation and unique-local ranges are refused too; an allowed range opens them.
    expect((await rejection(a.createPermission({ host: '2001:db8::5', port: 9 }))).code).toBe(
      'TURN_FORBIDDEN',
    )
    expect(s.stats.refusedPeers).toBe(3)
    const lab = await server({
      relayHosts: ['::1'],
      allowLoopbackPeers: false,
      allowPeerRanges: ['2001:db8::/32'],
    })
    const b = await client(lab, { addressFamily: 6 })
    await b.createPermission({ host: '2001:db8::5', port: 9 })
    expect((await rejection(b.createPermission({ host: 'fd00::1', port: 9 }))).code).toBe(
      'TURN_FORBIDDEN',
    )
  })

  it('relay options: one IP per family, IP literals only', () => {
    expect(relayHostsOf({ host: '::1' })).toEqual({ 6: '::1' })
    expect(relayHostsOf({ relayHosts: ['::1', '10.0.0.1'] })).toEqual({ 4: '10.0.0.1', 6: '::1' })
    expect(() => relayHostsOf({ relayHosts: ['::1', '::2'] })).toThrow(TurnError)
    expect(() => relayHostsOf({ relayHosts: ['example.org'] })).toThrow(TurnError)
    expect(() => relayHostsOf({ relayHosts: [] })).toThrow(TurnError)
  })

  it('a malformed or unknown REQUESTED-ADDRESS-FAMILY is refused (400 / 440)', async () => {
    const s = await server({ relayHosts: ['127.0.0.1', '::1'] })
    const conn = await openUdp(s.address, {})
    cleanup.push(() => conn.close())
    const allocate = (family: number[]) =>
      authenticatedRequest(
        conn,
        new LongTermAuth('alice', users.alice),
        { rtoMs: 100 },
        StunMethod.Allocate,
        () => [
          attr.uint32(AttrType.RequestedTransport, 17 << 24),
          attr.raw(AttrType.RequestedAddressFamily, Buffer.from(family)),
        ],
        new AbortController().signal,
      )
    expect(await rejection(allocate([3, 0, 0, 0]))).toMatchObject({ errorCode: 440 })
    expect(await rejection(allocate([2, 0]))).toMatchObject({ errorCode: 400 })
    expect(s.allocationCount).toBe(0)
  })

  it('per-source budgets: every address of one IPv6 /64 shares one', () => {
    expect(sourceKey('2001:db8:1:2::1')).toBe(sourceKey('2001:db8:1:2:ffff::9'))
    expect(sourceKey('2001:db8:1:2::1')).not.toBe(sourceKey('2001:db8:1:3::1'))
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7')
  })

  it('unauthenticated requests from an IPv6 source are bounded and never amplified', async () => {
    const s = await server({
      relayHosts: ['::1'],
      limits: { unauthenticated: { perSecond: 1, burst: 5 } },
    })
    const raw = createSocket('udp6')
    await new Promise<void>((r) => raw.bind(0, '::1', () => r()))
    cleanup.push(() => new Promise<void>((r) => raw.close(() => r())))
    let repliedBytes = 0
    let replies = 0
    raw.on('message', (m) => {
      replies++
      repliedBytes += m.length
    })
    let sentBytes = 0
    for (let i = 0; i < 40; i++) {
      const bytes = encodeMessage(
        createMessage({
          method: StunMethod.Allocate,
          cls: StunClass.Request,
          transactionId: newTransactionId(),
          attributes: [attr.uint32(AttrType.RequestedTransport, 17 << 24)],
        }),
      )
      sentBytes += bytes.length
      raw.send(bytes, s.address.port, '::1')
    }
    await new Promise((r) => setTimeout(r, 500))
    expect(replies).toBeGreaterThan(0)
    expect(replies).toBeLessThanOrEqual(10)
    expect(repliedBytes).toBeLessThanOrEqual(sentBytes)
    expect(s.stats.droppedUnauthenticated).toBeGreaterThanOrEqual(30)
  })
})

describe('TCP allocations over IPv6', () => {
  it('reaches the server over IPv6, relays from an IPv6 address to an IPv6 TCP peer', async () => {
    const s = await server({ relayHosts: ['127.0.0.1', '::1'] })
    const config = {
      ...s.address,
      transport: 'tcp' as const,
      username: 'alice',
      password: users.alice,
    }
    await expectIpv6TcpRelay(config, (f) => cleanup.push(f))
    // An IPv6 peer for the IPv4 relay below: the permission is refused, nothing dials it.
    const peer = { host: '::1', port: 9 }

    const v4 = await TurnTcpClient.allocate(config, { timeoutMs: 5000 })
    cleanup.push(() => v4.close())
    expect(v4.relayed.family).toBe(4)
    expect((await rejection(v4.createPermission(peer))).code).toBe('TURN_PEER_ADDRESS_FAMILY')

    const only4 = await server({ host: '::1', relayHosts: ['127.0.0.1'] })
    const refused = await rejection(
      TurnTcpClient.allocate(
        { ...config, port: only4.address.port },
        { timeoutMs: 5000, addressFamily: 6 },
      ),
    )
    expect(refused.code).toBe('TURN_ADDRESS_FAMILY')
  })
})
