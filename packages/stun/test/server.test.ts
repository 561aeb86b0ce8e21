import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  readAttributes,
  StunClass,
  StunMethod,
  StunServer,
  StunTcpClient,
  StunUdpClient,
} from '../src/index.js'
import { closeSocket, portOf, rejectionCode, udpSocket } from './helpers.js'

describe('StunServer (RFC 5780) with our client', () => {
  let server: StunServer
  let client: StunUdpClient

  beforeAll(async () => {
    server = new StunServer({ rateLimit: false })
    await server.start()
    client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
  })
  afterAll(async () => {
    await client.close()
    await server.close()
  })

  it('binds 4 endpoints on 127.0.0.1 + 127.0.0.2 with two ports', () => {
    const [p0, p1] = server.ports
    expect(p0).toBeGreaterThan(0)
    expect(p1).toBeGreaterThan(0)
    expect(p1).not.toBe(p0)
    expect(server.primary).toEqual({ host: '127.0.0.1', port: p0 })
    expect(server.other).toEqual({ host: '127.0.0.2', port: p1 })
  })

  it('UDP Binding: mapped address, OTHER-ADDRESS, RESPONSE-ORIGIN, SOFTWARE, FINGERPRINT', async () => {
    const r = await client.binding(server.primary, { timeoutMs: 2000 })
    expect(r.mapped).toEqual({ family: 4, host: '127.0.0.1', port: client.local.port })
    expect(r.attributes.mappedAddress).toEqual(r.attributes.xorMappedAddress)
    expect(r.attributes.otherAddress).toEqual({ family: 4, ...server.other })
    expect(r.attributes.responseOrigin).toEqual({ family: 4, ...server.primary })
    expect(r.attributes.software).toBe('p2pd-stun')
    expect(r.response.attributes.at(-1)?.type).toBe(AttrType.Fingerprint)
    expect(r.from).toEqual(server.primary)
    expect(r.local.port).toBe(client.local.port)
  })

  it('honours CHANGE-REQUEST over UDP: the reply comes from the changed IP and/or port', async () => {
    const [p0, p1] = server.ports
    const cases = [
      [
        { changeIp: true, changePort: true },
        { host: '127.0.0.2', port: p1 },
      ],
      [
        { changeIp: false, changePort: true },
        { host: '127.0.0.1', port: p1 },
      ],
      [
        { changeIp: true, changePort: false },
        { host: '127.0.0.2', port: p0 },
      ],
    ] as const
    for (const [changeRequest, from] of cases) {
      const r = await client.binding(server.primary, { changeRequest, timeoutMs: 2000 })
      expect(r.from).toEqual(from)
      expect(r.attributes.responseOrigin).toEqual({ family: 4, ...from })
      expect(r.mapped.port).toBe(client.local.port)
    }
  })

  it('one local socket reaches all four endpoints with one mapping; OTHER-ADDRESS is relative', async () => {
    for (const ip of [0, 1] as const) {
      for (const port of [0, 1] as const) {
        const to = server.addressOf({ ip, port })
        const r = await client.binding(to, { timeoutMs: 2000 })
        expect(r.mapped.port).toBe(client.local.port)
        expect(r.attributes.otherAddress).toEqual({
          family: 4,
          ...server.addressOf({ ip: (1 - ip) as 0 | 1, port: (1 - port) as 0 | 1 }),
        })
      }
    }
  })

  it('concurrent transactions on one socket are matched by transaction id', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.binding(server.addressOf({ ip: (i % 2) as 0 | 1, port: 0 }), { timeoutMs: 3000 }),
      ),
    )
    expect(results.every((r) => r.mapped.port === client.local.port)).toBe(true)
    expect(client.pending).toBe(0)
  })

  it('RESPONSE-PORT sends the reply to another port of the same IP', async () => {
    const other = await udpSocket()
    const got = new Promise<Buffer>((resolve) => other.once('message', resolve))
    const req = createMessage({
      method: StunMethod.Binding,
      cls: StunClass.Request,
      attributes: [attr.responsePort(portOf(other))],
    })
    await client.sendMessage(req, server.primary)
    const reply = decodeMessage(await got)
    expect(Buffer.from(reply.transactionId)).toEqual(Buffer.from(req.transactionId))
    expect(readAttributes(reply).mappedAddress?.port).toBe(client.local.port)
    await closeSocket(other)
  })

  it('answers classic RFC 3489 requests with MAPPED-, SOURCE- and CHANGED-ADDRESS', async () => {
    const r = await client.binding(server.primary, {
      legacy: true,
      changeRequest: { changeIp: true, changePort: true },
      timeoutMs: 2000,
    })
    expect(r.response.legacy).toBe(true)
    expect(r.attributes.xorMappedAddress).toBeUndefined()
    expect(r.mapped.port).toBe(client.local.port)
    expect(r.attributes.changedAddress).toEqual({ family: 4, ...server.other })
    expect(r.attributes.sourceAddress).toEqual({ family: 4, ...server.other })
    expect(r.from).toEqual(server.other)
  })

  it('echoes PADDING; 420 for unknown comprehension-required attributes; 400 for other methods', async () => {
    const padded = await client.binding(server.primary, { padding: 500, timeoutMs: 2000 })
    expect(padded.attributes.padding).toBe(500)
    expect(
      await rejectionCode(
        client.binding(server.primary, { attributes: [attr.raw(0x7abc, Buffer.alloc(4))] }),
      ),
    ).toBe('STUN_ERROR_RESPONSE')
    const tx = await client.transact(
      server.primary,
      createMessage({
        method: StunMethod.Binding,
        cls: StunClass.Request,
        attributes: [attr.raw(0x7abc, Buffer.alloc(4))],
      }),
    )
    expect(readAttributes(tx.response).errorCode?.code).toBe(420)
    expect(readAttributes(tx.response).unknownAttributes).toEqual([0x7abc])
    const alloc = await client.transact(
      server.primary,
      createMessage({ method: StunMethod.Allocate, cls: StunClass.Request }),
    )
    expect(alloc.response.cls).toBe(StunClass.ErrorResponse)
    expect(readAttributes(alloc.response).errorCode?.code).toBe(400)
  })

  it('TCP: bindings on one kept-open connection; CHANGE-REQUEST gets 400 (as from coturn)', async () => {
    const conn = await StunTcpClient.connect(server.primary, { localAddress: '127.0.0.1' })
    const a = await conn.binding({ timeoutMs: 2000 })
    expect(a.mapped).toEqual({ family: 4, host: '127.0.0.1', port: conn.local.port })
    expect(a.attributes.otherAddress).toEqual({ family: 4, ...server.other })
    const many = await Promise.all(
      Array.from({ length: 20 }, () => conn.binding({ timeoutMs: 2000 })),
    )
    expect(many.every((r) => r.mapped.port === conn.local.port)).toBe(true)
    const err = await conn
      .binding({ changeRequest: { changeIp: true, changePort: false }, timeoutMs: 2000 })
      .catch((e) => e)
    expect(err.code).toBe('STUN_ERROR_RESPONSE')
    expect(err.errorCode).toBe(400)
    expect(conn.closed).toBe(false)
    await conn.close()
    expect(conn.closed).toBe(true)
    expect(await rejectionCode(conn.binding())).toBe('STUN_CLOSED')
  })

  it('binds a chosen local address and port (UDP and TCP)', async () => {
    const probe = await udpSocket()
    const port = portOf(probe)
    await closeSocket(probe)
    const udp = await StunUdpClient.open({ localAddress: '127.0.0.1', localPort: port })
    expect((await udp.binding(server.primary)).mapped).toEqual({
      family: 4,
      host: '127.0.0.1',
      port,
    })
    await udp.close()
    const tcp = await StunTcpClient.connect(server.primary, {
      localAddress: '127.0.0.1',
      localPort: port,
    })
    expect((await tcp.binding()).mapped.port).toBe(port)
    await tcp.close()
    expect(await rejectionCode(StunUdpClient.open({ localAddress: '192.0.2.1' }))).toBe(
      'STUN_SOCKET',
    )
  })

  it('TCP server handles coalesced and split requests from a raw socket', async () => {
    const reqs = [1, 2, 3].map(() =>
      encodeMessage(createMessage({ method: StunMethod.Binding, cls: StunClass.Request })),
    )
    const sock = connect(server.primary)
    await new Promise((r) => sock.once('connect', r))
    const received: Buffer[] = []
    const all = new Promise<void>((resolve) =>
      sock.on('data', (d: Buffer) => {
        received.push(d)
        if (Buffer.concat(received).length >= 3 * 20) {
          // enough bytes for three headers; wait for full bodies below
          const total = Buffer.concat(received)
          let off = 0
          let n = 0
          while (off + 20 <= total.length) {
            off += 20 + total.readUInt16BE(off + 2)
            if (off <= total.length) n++
          }
          if (n === 3) resolve()
        }
      }),
    )
    const bytes = Buffer.concat(reqs)
    sock.write(bytes.subarray(0, 10))
    await new Promise((r) => setTimeout(r, 20))
    sock.write(bytes.subarray(10, 45))
    await new Promise((r) => setTimeout(r, 20))
    sock.write(bytes.subarray(45))
    await all
    sock.destroy()
  })
})

describe('StunServer limits and lifecycle', () => {
  it('rate-limits per source IP', async () => {
    const server = new StunServer({ rateLimit: { perSecond: 1, burst: 2 }, tcp: false })
    await server.start()
    const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        rejectionCode(client.binding(server.primary, { timeoutMs: 300, rtoMs: 1000 })),
      ),
    )
    expect(outcomes.filter((o) => o === 'resolved')).toHaveLength(2)
    expect(server.stats.rateLimited).toBe(3)
    await client.close()
    await server.close()
  })

  it('explicit ports; close() releases every socket so the ports can be bound again', async () => {
    const first = new StunServer()
    await first.start()
    const [p0, p1] = first.ports
    const conn = await StunTcpClient.connect(first.other)
    await first.close()
    await new Promise((r) => setTimeout(r, 20))
    expect(conn.closed).toBe(true)
    const second = new StunServer({ primaryPort: p0, alternatePort: p1 })
    await second.start()
    expect(second.ports).toEqual([p0, p1])
    const client = await StunUdpClient.open()
    const r = await client.binding(second.other, { timeoutMs: 2000 })
    expect(r.attributes.otherAddress).toEqual({ family: 4, ...second.primary })
    await client.close()
    // A taken port is a typed error, not a crash.
    const third = new StunServer({ primaryPort: p0, alternatePort: p1 })
    expect(await rejectionCode(third.start())).toBe('STUN_SOCKET')
    await second.close()
  })

  it('rejects a primary and an alternate IP of different families', () => {
    expect(() => new StunServer({ primaryHost: '127.0.0.1', alternateHost: '::1' })).toThrow(
      expect.objectContaining({ code: 'STUN_BAD_INPUT' }),
    )
  })
})
