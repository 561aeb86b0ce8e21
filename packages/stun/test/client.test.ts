import { createSocket, type RemoteInfo } from 'node:dgram'
import { AbortError, TimeoutError } from '@p2pd/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  respond,
  StunClass,
  StunServer,
  StunServerPool,
  StunUdpClient,
} from '../src/index.js'
import { closeSocket, portOf, rejectionCode, udpSocket } from './helpers.js'

/** A Binding success for `request`, reporting `mapped`. */
function successFor(request: Buffer, mapped: RemoteInfo): Buffer {
  const req = decodeMessage(request)
  return encodeMessage(
    createMessage({
      method: req.method,
      cls: StunClass.SuccessResponse,
      transactionId: req.transactionId,
      attributes: [
        attr.xorMappedAddress({ host: mapped.address, port: mapped.port }, req.transactionId),
      ],
    }),
  )
}

describe('StunUdpClient retransmission (RFC 8489 §6.2.1)', () => {
  it('retransmits with a doubling RTO and accepts the answer to a retransmission', async () => {
    const fake = await udpSocket()
    const arrivals: number[] = []
    fake.on('message', (msg, rinfo) => {
      arrivals.push(performance.now())
      if (arrivals.length === 4) fake.send(successFor(msg, rinfo), rinfo.port, rinfo.address)
    })
    const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    const r = await client.binding({ host: '127.0.0.1', port: portOf(fake) }, { rtoMs: 50 })
    expect(r.mapped.port).toBe(client.local.port)
    expect(r.response.transactionId).toHaveLength(12)
    expect(arrivals).toHaveLength(4)
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number))
    // 50, 100, 200 ms: never early (that is what doubling means); late only by scheduling.
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(50 * 2 ** i - 2)
      expect(g).toBeLessThan(50 * 2 ** i + 150)
    })
    await client.close()
    await closeSocket(fake)
  })

  it('gives up after Rc requests and Rm × RTO with STUN_NO_RESPONSE', async () => {
    const silent = await udpSocket()
    let seen = 0
    silent.on('message', () => seen++)
    const client = await StunUdpClient.open()
    const started = performance.now()
    const code = await rejectionCode(
      client.binding(
        { host: '127.0.0.1', port: portOf(silent) },
        {
          rtoMs: 10,
          maxRequests: 3,
          lastWaitFactor: 4,
          timeoutMs: 5000,
        },
      ),
    )
    expect(code).toBe('STUN_NO_RESPONSE')
    expect(seen).toBe(3)
    // 10 + 20 + 40 ms
    expect(performance.now() - started).toBeGreaterThanOrEqual(68)
    expect(client.pending).toBe(0)
    await client.close()
    await closeSocket(silent)
  })

  it("the caller's deadline caps the schedule (TimeoutError), abort gives AbortError", async () => {
    const silent = await udpSocket()
    const client = await StunUdpClient.open()
    const to = { host: '127.0.0.1', port: portOf(silent) }
    const t0 = performance.now()
    await expect(client.binding(to, { timeoutMs: 120 })).rejects.toBeInstanceOf(TimeoutError)
    expect(performance.now() - t0).toBeLessThan(1000)
    const ac = new AbortController()
    const p = client.binding(to, { signal: ac.signal })
    setTimeout(() => ac.abort(), 20)
    await expect(p).rejects.toBeInstanceOf(AbortError)
    expect(client.pending).toBe(0)
    // close() fails what is still pending
    const pending = client.binding(to, { timeoutMs: 5000 })
    await client.close()
    expect(await rejectionCode(pending)).toBe('STUN_CLOSED')
    await closeSocket(silent)
  })
})

describe('StunUdpClient response matching', () => {
  it('ignores answers with the right transaction id from the wrong source, and wrong ids', async () => {
    const server = await udpSocket()
    const spoofer = await udpSocket()
    server.on('message', (msg, rinfo) => {
      const good = successFor(msg, rinfo)
      const wrongId = Buffer.from(good)
      wrongId[19] = (wrongId[19] as number) ^ 1
      // The spoofer knows the id but is not the server; the server first sends a wrong id.
      spoofer.send(good, rinfo.port, rinfo.address)
      server.send(wrongId, rinfo.port, rinfo.address)
      setTimeout(() => server.send(good, rinfo.port, rinfo.address), 30)
    })
    const unmatched: string[] = []
    const client = await StunUdpClient.open({
      localAddress: '127.0.0.1',
      onUnmatched: (_d, from) => unmatched.push(`${from.host}:${from.port}`),
    })
    const r = await client.binding({ host: '127.0.0.1', port: portOf(server) }, { rtoMs: 1000 })
    expect(r.from.port).toBe(portOf(server))
    expect(unmatched).toContain(`127.0.0.1:${portOf(spoofer)}`)
    expect(unmatched).toContain(`127.0.0.1:${portOf(server)}`)
    await client.close()
    await closeSocket(server)
    await closeSocket(spoofer)
  })

  it('a change request is not satisfied by an answer from the unchanged address', async () => {
    const server = await udpSocket()
    server.on('message', (msg, rinfo) =>
      server.send(successFor(msg, rinfo), rinfo.port, rinfo.address),
    )
    const client = await StunUdpClient.open()
    const to = { host: '127.0.0.1', port: portOf(server) }
    expect(
      await rejectionCode(
        client.binding(to, { changeRequest: { changeIp: true, changePort: true }, timeoutMs: 150 }),
      ),
    ).toBe('TIMEOUT')
    // …unless the caller says any source will do.
    const r = await client.binding(to, {
      changeRequest: { changeIp: true, changePort: true },
      expectFrom: 'any',
      timeoutMs: 1000,
    })
    expect(r.from).toEqual(to)
    await client.close()
    await closeSocket(server)
  })

  it('works over IPv6 (::1) with an IPv6 XOR-MAPPED-ADDRESS', async () => {
    const s6 = createSocket('udp6')
    await new Promise<void>((resolve) => s6.bind(0, '::1', resolve))
    const here = { host: '::1', port: s6.address().port }
    s6.on('message', (msg, rinfo) => {
      const reply = respond(msg, {
        transport: 'udp',
        slot: { ip: 0, port: 0 },
        remote: { host: rinfo.address, port: rinfo.port },
        addressOf: () => here,
        allowResponsePort: false,
      })
      if (reply) s6.send(reply.bytes, reply.to.port, reply.to.host)
    })
    const client = await StunUdpClient.open({ localAddress: '::1' })
    const r = await client.binding(here, { timeoutMs: 2000 })
    expect(r.mapped).toEqual({ family: 6, host: '::1', port: client.local.port })
    await client.close()
    await new Promise<void>((resolve) => s6.close(() => resolve()))
  })
})

describe('StunServerPool', () => {
  let server: StunServer
  let dead: number
  beforeAll(async () => {
    server = new StunServer({ rateLimit: false })
    await server.start()
    const s = await udpSocket()
    dead = portOf(s)
    await closeSocket(s)
  })
  afterAll(async () => {
    await server.close()
  })

  it('queries several servers concurrently, resolves names, and scores health', async () => {
    const pool = new StunServerPool([
      `127.0.0.1:${dead}`,
      `localhost:${server.ports[0]}`,
      server.other,
      `127.0.0.2:${server.ports[0]}`,
    ])
    // Asking for 4 of 4: the dead one runs to its per-server deadline; 3 answers come back.
    const results = await pool.query({ want: 4, concurrency: 4, perServerTimeoutMs: 300 })
    expect(results).toHaveLength(3)
    expect(new Set(results.map((r) => r.spec)).has(`127.0.0.1:${dead}`)).toBe(false)
    // One local socket for the query: one mapping everywhere.
    expect(new Set(results.map((r) => r.mapped.port)).size).toBe(1)
    const health = pool.health()
    expect(health.at(-1)?.server).toBe(`127.0.0.1:${dead}`)
    expect(health.at(-1)?.failures).toBe(1)
    expect(health[0]?.successes).toBe(1)
    expect(health[0]?.srttMs).toBeGreaterThan(0)
    // Next time the failing server is tried last.
    expect(pool.ranked().at(-1)).toBe(`127.0.0.1:${dead}`)
  })

  it('TCP with keepOpen returns live connections; STUN_ALL_FAILED when none answers', async () => {
    const pool = new StunServerPool([server.primary, server.other])
    const results = await pool.query({ transport: 'tcp', want: 2, keepOpen: true })
    expect(results).toHaveLength(2)
    for (const r of results) {
      expect(r.connection?.closed).toBe(false)
      const again = await r.connection?.binding()
      expect(again?.mapped.port).toBe(r.mapped.port)
      await r.connection?.close()
    }
    const deadPool = new StunServerPool([`127.0.0.1:${dead}`])
    expect(await rejectionCode(deadPool.query({ transport: 'tcp' }))).toBe('STUN_ALL_FAILED')
  })

  it('shares a caller-given UDP client across servers', async () => {
    const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    const pool = new StunServerPool([server.primary, server.other])
    const results = await pool.query({ want: 2, client })
    expect(results.map((r) => r.mapped.port)).toEqual([client.local.port, client.local.port])
    expect(client.closed).toBe(false)
    await client.close()
  })
})
