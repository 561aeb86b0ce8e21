// TurnTcpClient against coturn, the reference server: TCP allocations (RFC 6062) with Connect,
// ConnectionAttempt and ConnectionBind, and coturn's 442 when TCP relays are off. A missing
// coturn fails these tests (never a skip).
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnTcpClient } from '../src/index.js'
import { closedWithin, tcpPeer, transfer } from './tcp-helpers.js'

const MiB = 1024 * 1024

describe('TCP allocations against coturn', () => {
  let coturn: Coturn
  const cleanup: Array<() => unknown> = []
  const config = () => ({
    host: coturn.host,
    port: coturn.port,
    transport: 'tcp' as const,
    username: coturn.user,
    password: coturn.password,
  })
  const allocate = async (o = {}) => {
    const c = await TurnTcpClient.allocate(config(), { timeoutMs: 5000, ...o })
    cleanup.push(() => c.close())
    return c
  }

  beforeAll(async () => {
    coturn = await startCoturn()
  })
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f()
    await coturn?.stop()
  })

  // One direction at a time: coturn 4.6.1's relay stalled in our runs when an echo saturated
  // both directions at once (4 MiB written before reading); our server does not.
  it('allocates a TCP relay and connects to a TCP peer: 8 MiB hashed each way', async () => {
    const peer = await tcpPeer()
    cleanup.push(() => peer.close())
    const c = await allocate()
    expect(c.relayed.host).toBe(coturn.host)
    await c.createPermission(peer.address)
    const s = await c.connect(peer.address)
    const far = peer.sockets[0] as Socket
    const r = await transfer(s, far, 8 * MiB)
    expect(r.received).toBe(r.sent)
    const back = await transfer(far, s, 8 * MiB)
    expect(back.received).toBe(back.sent)
    s.destroy()
  })

  it('a peer connecting to the relayed address arrives through ConnectionAttempt', async () => {
    const c = await allocate()
    await c.createPermission({ host: '127.0.0.1', port: 0 })
    const arrived = once(c, 'connection') as Promise<[Socket, { host: string }]>
    const outside = connect({ host: c.relayed.host, port: c.relayed.port })
    outside.on('error', () => {})
    cleanup.push(() => outside.destroy())
    const [inside, from] = await arrived
    expect(from.host).toBe('127.0.0.1')
    const ab = await transfer(outside, inside, 3 * MiB)
    expect(ab.received).toBe(ab.sent)
    const ba = await transfer(inside, outside, 3 * MiB)
    expect(ba.received).toBe(ba.sent)
  })

  it('an unpermitted peer is not announced', async () => {
    const c = await allocate()
    let announced = 0
    c.on('connection', () => announced++)
    const stranger = connect({ host: c.relayed.host, port: c.relayed.port })
    stranger.on('error', () => {})
    await closedWithin(stranger, 5000)
    expect(announced).toBe(0)
  })

  it('a relayed pipe between two TCP allocations (Connect to the other relayed address)', async () => {
    const [a, b] = await Promise.all([allocate(), allocate()])
    await Promise.all([a.createPermission(b.relayed), b.createPermission(a.relayed)])
    const arrived = once(b, 'connection') as Promise<[Socket]>
    const sa = await a.connect(b.relayed)
    const [sb] = await arrived
    const r = await transfer(sa, sb, 2 * MiB)
    expect(r.received).toBe(r.sent)
    const r2 = await transfer(sb, sa, 2 * MiB)
    expect(r2.received).toBe(r2.sent)
  })

  it('over TLS: control and data connections both TLS (the test CA trusted)', async () => {
    const withTls = await startCoturn({ tls: true })
    try {
      const tls = withTls.tls as { port: number; cert: string }
      const peer = await tcpPeer()
      cleanup.push(() => peer.close())
      const c = await TurnTcpClient.allocate(
        { ...config(), transport: 'tls', port: tls.port, tls: { ca: tls.cert } },
        { timeoutMs: 5000 },
      )
      cleanup.push(() => c.close())
      await c.createPermission(peer.address)
      const s = await c.connect(peer.address)
      expect(s.constructor.name).toBe('TLSSocket')
      const r = await transfer(s, peer.sockets[0] as Socket, 1024 * 1024)
      expect(r.received).toBe(r.sent)
      await c.close()
    } finally {
      await withTls.stop()
    }
  })

  it('coturn without TCP relays answers 442 (typed TURN_UNSUPPORTED_TRANSPORT)', async () => {
    const noTcp = await startCoturn({ extraArgs: ['--no-tcp-relay'] })
    try {
      const err = await TurnTcpClient.allocate(
        { ...config(), port: noTcp.port },
        { timeoutMs: 5000 },
      ).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'TURN_UNSUPPORTED_TRANSPORT', errorCode: 442 })
    } finally {
      await noTcp.stop()
    }
  })
})
