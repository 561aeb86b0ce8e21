// TCP allocations (RFC 6062) between our TurnTcpClient and our TurnServer, over real loopback
// sockets: Connect, ConnectionAttempt, permissions, ConnectionBind checks and the bounds.
import { once } from 'node:events'
import type { Socket } from 'node:net'
import {
  AttrType,
  attr,
  decodeConnectionId,
  findAttribute,
  type StunAttribute,
  StunMethod,
  TransportProtocol,
} from '@p2pd/stun'
import { afterEach, describe, expect, it } from 'vitest'
import { LongTermAuth } from '../src/client/auth.js'
import { dialServer, unboundDataConnection } from '../src/client/data-connection.js'
import { authenticatedRequest } from '../src/client/request.js'
import { openStream } from '../src/client/transport.js'
import { TurnError, TurnServer, type TurnServerOptions, TurnTcpClient } from '../src/index.js'
import { closedWithin, echo, tcpPeer, transfer } from './tcp-helpers.js'

const MiB = 1024 * 1024

describe('TCP allocations on our TurnServer', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f()
  })
  const start = async (opts: Partial<TurnServerOptions> = {}) => {
    const server = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true, ...opts })
    const address = await server.start()
    cleanup.push(() => server.close())
    return {
      server,
      config: { ...address, transport: 'tcp' as const, username: 'u', password: 'p' },
    }
  }
  const allocate = async (config: Parameters<typeof TurnTcpClient.allocate>[0], o = {}) => {
    const c = await TurnTcpClient.allocate(config, { timeoutMs: 5000, ...o })
    cleanup.push(() => c.close())
    return c
  }

  it('Connect: a relayed TCP byte stream to a peer, 4 MiB hashed both ways', async () => {
    const { server, config } = await start()
    const peer = await tcpPeer(echo)
    cleanup.push(() => peer.close())
    const c = await allocate(config)
    expect(c.relayed.host).toBe('127.0.0.1')
    await c.createPermission(peer.address)
    const s = await c.connect(peer.address)
    const r = await transfer(s, s, 4 * MiB)
    expect(r.received).toBe(r.sent)
    expect(server.stats.tcpAllocations).toBe(1)
    expect(server.stats.tcpSpliced).toBe(1)
    s.destroy()
  })

  it('ConnectionAttempt: a permitted peer connecting to the relayed address arrives as a socket', async () => {
    const { config } = await start()
    const c = await allocate(config)
    const { connect } = await import('node:net')
    await c.createPermission({ host: '127.0.0.1', port: 0 })
    const arrived = once(c, 'connection') as Promise<[Socket, { host: string }]>
    const outside = connect({ host: c.relayed.host, port: c.relayed.port })
    cleanup.push(() => outside.destroy())
    outside.write('early bytes before the bind;')
    const [inside, from] = await arrived
    expect(from.host).toBe('127.0.0.1')
    const early = await new Promise<string>((r) => inside.once('data', (d: Buffer) => r(`${d}`)))
    expect(early).toBe('early bytes before the bind;')
    const ab = await transfer(outside, inside, 3 * MiB)
    expect(ab.received).toBe(ab.sent)
    const ba = await transfer(inside, outside, 3 * MiB)
    expect(ba.received).toBe(ba.sent)
  })

  it('needs a permission: Connect is 403, an unpermitted peer is closed unannounced', async () => {
    const { server, config } = await start()
    const peer = await tcpPeer(echo)
    cleanup.push(() => peer.close())
    const c = await allocate(config)
    const err = await c.connect(peer.address).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TurnError)
    expect((err as TurnError).code).toBe('TURN_FORBIDDEN')
    let announced = 0
    c.on('connection', () => announced++)
    const { connect } = await import('node:net')
    const stranger = connect({ host: c.relayed.host, port: c.relayed.port })
    stranger.on('error', () => {})
    await closedWithin(stranger, 5000)
    expect(announced).toBe(0)
    expect(server.stats.tcpRefusedPeers).toBeGreaterThanOrEqual(2)
  })

  it('refuses a ConnectionBind with an unknown CONNECTION-ID (400)', async () => {
    const { config } = await start()
    await allocate(config)
    const target = { server: { host: config.host, port: config.port }, transport: 'tcp' as const }
    const socket = await dialServer(target, new AbortController().signal)
    cleanup.push(() => socket.destroy())
    const err = await authenticatedRequest(
      unboundDataConnection(socket, target),
      new LongTermAuth('u', 'p'),
      {},
      StunMethod.ConnectionBind,
      () => [attr.connectionId(12345)],
      new AbortController().signal,
    ).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TURN_BAD_REQUEST', errorCode: 400 })
    // And a ConnectionBind without the attribute at all.
    const err2 = await authenticatedRequest(
      unboundDataConnection(socket, target),
      new LongTermAuth('u', 'p'),
      {},
      StunMethod.ConnectionBind,
      () => [attr.uint32(AttrType.Lifetime, 1)],
      new AbortController().signal,
    ).catch((e: unknown) => e)
    expect(err2).toMatchObject({ errorCode: 400 })
  })

  it('closes a peer connection that is not bound within the bind timeout', async () => {
    const { server, config } = await start({ tcp: { connectionBindTimeoutMs: 300 } })
    const c = await allocate(config, { acceptConnections: false })
    await c.createPermission({ host: '127.0.0.1', port: 0 })
    const { connect } = await import('node:net')
    const peer = connect({ host: c.relayed.host, port: c.relayed.port })
    peer.on('error', () => {})
    await once(peer, 'connect')
    await closedWithin(peer, 10_000)
    expect(server.stats.tcpUnboundTimeouts).toBe(1)
    expect(server.pendingTcpConnections).toBe(0)
  })

  it('answers 442 when TCP allocations are off; TCP refused when TCP is not listened', async () => {
    const { config } = await start({ tcp: { allocations: false } })
    const err = await TurnTcpClient.allocate(config, { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TURN_UNSUPPORTED_TRANSPORT', errorCode: 442 })
    const udpOnly = await start({ tcp: { listen: false } })
    const err2 = await TurnTcpClient.allocate(udpOnly.config, { timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    )
    expect(err2).toMatchObject({ code: 'TURN_SOCKET' })
  })

  it('bounds strangers: idle connections closed, connections per source capped', async () => {
    const { server, config } = await start({
      tcp: { idleTimeoutMs: 300, maxConnectionsPerSource: 3 },
    })
    const { connect } = await import('node:net')
    const socks = Array.from({ length: 5 }, () => {
      const s = connect({ host: config.host, port: config.port })
      s.on('error', () => {})
      return s
    })
    cleanup.push(() => {
      for (const s of socks) s.destroy()
    })
    await Promise.all(socks.map((s) => closedWithin(s, 10_000)))
    expect(server.stats.tcpRefusedConnections).toBe(2)
    expect(server.stats.tcpIdleClosed).toBe(3)
  })

  it('per-user quota counts TCP and UDP allocations together (486)', async () => {
    const { config } = await start({ maxAllocationsPerUser: 1 })
    await allocate(config)
    const err = await TurnTcpClient.allocate(config, { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TURN_QUOTA' })
  })

  it('close() deallocates and closes the relayed connections', async () => {
    const { server, config } = await start()
    const peer = await tcpPeer(echo)
    cleanup.push(() => peer.close())
    const c = await allocate(config)
    await c.createPermission(peer.address)
    const s = await c.connect(peer.address)
    expect(c.connectionCount).toBe(1)
    await c.close()
    await closedWithin(s, 5000)
    await closedWithin(peer.sockets[0] as Socket, 5000)
    for (let i = 0; i < 50 && server.allocationCount > 0; i++)
      await new Promise((r) => setTimeout(r, 50))
    expect(server.allocationCount).toBe(0)
  })

  it('bounds pending peer connections per allocation; a second Connect to one peer is 446', async () => {
    const { server, config } = await start({ tcp: { maxPendingPerAllocation: 2 } })
    const c = await allocate(config, { acceptConnections: false })
    await c.createPermission({ host: '127.0.0.1', port: 0 })
    const { connect } = await import('node:net')
    const peers = Array.from({ length: 4 }, () => {
      const s = connect({ host: c.relayed.host, port: c.relayed.port })
      s.on('error', () => {})
      cleanup.push(() => s.destroy())
      return s
    })
    await Promise.all(peers.map((s) => once(s, 'connect')))
    for (let i = 0; i < 50 && server.stats.tcpRefusedPeers < 2; i++) {
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(server.pendingTcpConnections).toBe(2)
    expect(server.stats.tcpRefusedPeers).toBe(2)
    // Connect to a peer that already has a pending connection: 446 (RFC 6062 §5.2).
    const echoPeer = await tcpPeer(echo)
    cleanup.push(() => echoPeer.close())
    const d = await allocate(config, { acceptConnections: false })
    await d.createPermission(echoPeer.address)
    const first = await d.connect(echoPeer.address)
    cleanup.push(() => first.destroy())
    const again = await d.connect(echoPeer.address).catch((e: unknown) => e)
    expect(again).toMatchObject({ code: 'TURN_CONNECTION_EXISTS', errorCode: 446 })
  })

  it('a ConnectionBind under another user is refused (441), under the owner accepted', async () => {
    const { config } = await start({ users: { u: 'p', v: 'q' } })
    const peer = await tcpPeer(echo)
    cleanup.push(() => peer.close())
    const server = { host: config.host, port: config.port }
    // A control connection driven by hand, to see the CONNECTION-ID the client would bind.
    const control = await openStream(server, { transport: 'tcp' })
    cleanup.push(() => control.close())
    const owner = new LongTermAuth('u', 'p')
    const req = (method: number, build: (tid: Uint8Array) => StunAttribute[]) =>
      authenticatedRequest(control, owner, {}, method, build, new AbortController().signal)
    await req(StunMethod.Allocate, () => [attr.requestedTransport(TransportProtocol.Tcp)])
    await req(StunMethod.CreatePermission, (tid) => [
      attr.xorAddress(AttrType.XorPeerAddress, peer.address, tid),
    ])
    const res = await req(StunMethod.Connect, (tid) => [
      attr.xorAddress(AttrType.XorPeerAddress, peer.address, tid),
    ])
    const id = decodeConnectionId(
      (findAttribute(res, AttrType.ConnectionId) as { value: Buffer }).value,
    )
    const bind = async (auth: LongTermAuth) => {
      const target = { server, transport: 'tcp' as const }
      const socket = await dialServer(target, new AbortController().signal)
      cleanup.push(() => socket.destroy())
      await authenticatedRequest(
        unboundDataConnection(socket, target),
        auth,
        {},
        StunMethod.ConnectionBind,
        () => [attr.connectionId(id)],
        new AbortController().signal,
      )
      return socket
    }
    const err = await bind(new LongTermAuth('v', 'q')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TURN_WRONG_CREDENTIALS', errorCode: 441 })
    const data = await bind(new LongTermAuth('u', 'p'))
    const r = await transfer(data, data, 64 * 1024)
    expect(r.received).toBe(r.sent)
  })

  it('refreshes the allocation before it expires; a control connection dropped is a loss', async () => {
    const { server, config } = await start()
    const c = await allocate(config, { lifetimeSec: 2 })
    expect(c.lifetimeSec).toBe(2)
    const [kind] = await once(c, 'refresh', { signal: AbortSignal.timeout(5000) })
    expect(kind).toBe('allocation')
    expect(server.allocationCount).toBe(1)
    const lost = once(c, 'lost', { signal: AbortSignal.timeout(5000) })
    await server.close()
    const [err] = await lost
    expect(err).toMatchObject({ code: 'TURN_ALLOCATION_LOST' })
    expect(c.closed).toBe(true)
  })

  it('malformed attributes in authenticated Allocate / Connect are answered 400 (no crash)', async () => {
    const { config } = await start()
    const server = { host: config.host, port: config.port }
    const control = await openStream(server, { transport: 'tcp' })
    cleanup.push(() => control.close())
    const auth = new LongTermAuth('u', 'p')
    const req = (method: number, build: (tid: Uint8Array) => StunAttribute[]) =>
      authenticatedRequest(control, auth, {}, method, build, new AbortController().signal).catch(
        (e: unknown) => e,
      )
    expect(
      await req(StunMethod.Allocate, () => [
        attr.raw(AttrType.RequestedTransport, Buffer.from([6])),
      ]),
    ).toMatchObject({ errorCode: 400 })
    await req(StunMethod.Allocate, () => [attr.requestedTransport(TransportProtocol.Tcp)])
    expect(
      await req(StunMethod.Connect, () => [
        attr.raw(AttrType.XorPeerAddress, Buffer.from([0, 9, 1])),
      ]),
    ).toMatchObject({ errorCode: 400 })
    expect(
      await req(StunMethod.CreatePermission, () => [
        attr.raw(AttrType.XorPeerAddress, Buffer.from([0, 1, 2, 3, 4])),
      ]),
    ).toMatchObject({ errorCode: 400 })
    // Still serving on the same connection.
    const ok = await req(StunMethod.Refresh, () => [attr.uint32(AttrType.Lifetime, 60)])
    expect(ok).not.toBeInstanceOf(Error)
  })
})
