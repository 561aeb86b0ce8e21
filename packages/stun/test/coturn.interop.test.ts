// Interop with coturn (Debian `coturn`), the reference server: our client against coturn, and
// coturn's own clients against our server. A missing coturn fails these tests (never a skip).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { requireBinary } from '@p2pd/testkit'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AttrType,
  attr,
  createMessage,
  decodeXorAddress,
  findAttribute,
  longTermKey,
  readAttributes,
  StunClass,
  StunMethod,
  StunServer,
  StunServerPool,
  StunTcpClient,
  StunUdpClient,
  verifyIntegrity,
} from '../src/index.js'

const execFileP = promisify(execFile)

/** Runs a coturn utility under `timeout` (they hang forever when nothing answers). */
async function tool(name: string, args: string[], seconds = 8): Promise<string> {
  const bin = requireBinary(name, 'coturn')
  const { stdout, stderr } = await execFileP('timeout', [String(seconds), bin, ...args])
  return stdout + stderr
}

const all = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => `${m[1]}:${m[2]}`)
const otherAddrs = (t: string) => all(t, /Other addr: : ([\d.]+):(\d+)/g)
const origins = (t: string) => all(t, /Response origin: : ([\d.]+):(\d+)/g)
const reflexive = (t: string) => all(t, /UDP reflexive addr: ([\d.]+):(\d+)/g)

describe('our client against coturn', () => {
  let coturn: Coturn
  let client: StunUdpClient

  beforeAll(async () => {
    coturn = await startCoturn()
    client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
  })
  afterAll(async () => {
    await client?.close()
    await coturn?.stop()
  })

  it('UDP Binding: mapped = our socket, OTHER-ADDRESS = altHost:port+1, RESPONSE-ORIGIN', async () => {
    const r = await client.binding({ host: coturn.host, port: coturn.port }, { timeoutMs: 3000 })
    expect(r.mapped).toEqual({ family: 4, ...client.local })
    expect(r.attributes.otherAddress).toEqual({
      family: 4,
      host: coturn.altHost,
      port: coturn.port + 1,
    })
    expect(r.attributes.responseOrigin).toEqual({ family: 4, host: coturn.host, port: coturn.port })
    expect(r.attributes.software).toMatch(/Coturn/)
  })

  it('CHANGE-REQUEST: coturn answers from the changed IP and/or port', async () => {
    const server = { host: coturn.host, port: coturn.port }
    const cases = [
      [
        { changeIp: true, changePort: true },
        { host: coturn.altHost, port: coturn.altPort },
      ],
      [
        { changeIp: false, changePort: true },
        { host: coturn.host, port: coturn.altPort },
      ],
      [
        { changeIp: true, changePort: false },
        { host: coturn.altHost, port: coturn.port },
      ],
    ] as const
    for (const [changeRequest, from] of cases) {
      const r = await client.binding(server, { changeRequest, timeoutMs: 3000 })
      expect(r.from, JSON.stringify(changeRequest)).toEqual(from)
      expect(r.mapped.port).toBe(client.local.port)
    }
  })

  it('TCP Binding on a kept-open connection', async () => {
    const conn = await StunTcpClient.connect(`${coturn.host}:${coturn.port}`, {
      localAddress: '127.0.0.1',
    })
    for (let i = 0; i < 3; i++) {
      const r = await conn.binding({ timeoutMs: 3000 })
      expect(r.mapped).toEqual({ family: 4, host: '127.0.0.1', port: conn.local.port })
      expect(r.attributes.otherAddress?.host).toBe(coturn.altHost)
    }
    // CHANGE-REQUEST cannot be honoured on a connection: coturn says 400, and so do we.
    const err = await conn
      .binding({ changeRequest: { changeIp: true, changePort: true }, timeoutMs: 3000 })
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'STUN_ERROR_RESPONSE', errorCode: 400 })
    const ours = new StunServer({ udp: false })
    await ours.start()
    const ourConn = await StunTcpClient.connect(ours.primary)
    const ourErr = await ourConn
      .binding({ changeRequest: { changeIp: true, changePort: true }, timeoutMs: 3000 })
      .catch((e) => e)
    expect(ourErr).toMatchObject({ code: 'STUN_ERROR_RESPONSE', errorCode: err.errorCode })
    await ourConn.close()
    await ours.close()
    await conn.close()
  })

  it('classic RFC 3489 requests: coturn and our server both answer with CHANGED-ADDRESS', async () => {
    const ours = new StunServer({ tcp: false, rateLimit: false })
    await ours.start()
    try {
      const fromCoturn = await client.binding(
        { host: coturn.host, port: coturn.port },
        { legacy: true, timeoutMs: 3000 },
      )
      const fromOurs = await client.binding(ours.primary, { legacy: true, timeoutMs: 3000 })
      for (const [r, other] of [
        [fromCoturn, { host: coturn.altHost, port: coturn.altPort }],
        [fromOurs, ours.other],
      ] as const) {
        expect(r.response.legacy).toBe(true)
        expect(r.attributes.mappedAddress).toEqual({ family: 4, ...client.local })
        expect(r.attributes.changedAddress).toEqual({ family: 4, ...other })
        expect(r.attributes.sourceAddress).toEqual({ family: 4, ...r.server })
      }
    } finally {
      await ours.close()
    }
  })

  it('a pool with coturn and our server agrees on the mapping of one socket', async () => {
    const ours = new StunServer({ rateLimit: false })
    await ours.start()
    try {
      const pool = new StunServerPool([`${coturn.host}:${coturn.port}`, ours.primary])
      const results = await pool.query({ want: 2, client })
      expect(results.map((r) => r.mapped)).toEqual([
        { family: 4, ...client.local },
        { family: 4, ...client.local },
      ])
    } finally {
      await ours.close()
    }
  })

  it('long-term credentials: 401 with REALM/NONCE, then an authenticated Allocate (codec for TURN)', async () => {
    const server = { host: coturn.host, port: coturn.port }
    const transport = attr.uint32(AttrType.RequestedTransport, 17 << 24) // UDP
    const first = await client.transact(
      server,
      createMessage({
        method: StunMethod.Allocate,
        cls: StunClass.Request,
        attributes: [transport],
      }),
      { encode: { fingerprint: true } },
    )
    expect(first.response.cls).toBe(StunClass.ErrorResponse)
    const challenge = readAttributes(first.response)
    expect(challenge.errorCode?.code).toBe(401)
    expect(challenge.realm).toBe(coturn.realm)
    expect(challenge.nonce).toBeTruthy()

    const key = longTermKey(coturn.user, coturn.realm, coturn.password)
    const auth = [
      attr.username(coturn.user),
      attr.realm(coturn.realm),
      attr.nonce(challenge.nonce ?? ''),
    ]
    const second = await client.transact(
      server,
      createMessage({
        method: StunMethod.Allocate,
        cls: StunClass.Request,
        attributes: [transport, ...auth],
      }),
      { encode: { integrity: { key }, fingerprint: true } },
    )
    expect(readAttributes(second.response).errorCode).toBeUndefined()
    expect(second.response.cls).toBe(StunClass.SuccessResponse)
    expect(verifyIntegrity(second.response, key)).toBe(true)
    expect(verifyIntegrity(second.response, longTermKey(coturn.user, coturn.realm, 'bad'))).toBe(
      false,
    )
    const relayed = findAttribute(second.response, AttrType.XorRelayedAddress)
    expect(relayed).toBeDefined()
    expect(
      decodeXorAddress(relayed?.value ?? Buffer.alloc(0), second.response.transactionId).host,
    ).toBe(coturn.host)
    // Release the allocation (Refresh, LIFETIME 0).
    const release = await client.transact(
      server,
      createMessage({
        method: StunMethod.Refresh,
        cls: StunClass.Request,
        attributes: [attr.uint32(AttrType.Lifetime, 0), ...auth],
      }),
      { encode: { integrity: { key }, fingerprint: true } },
    )
    expect(release.response.cls).toBe(StunClass.SuccessResponse)
  })
})

describe("coturn's clients against our server", () => {
  let server: StunServer

  beforeAll(async () => {
    server = new StunServer({ rateLimit: false })
    await server.start()
  })
  afterAll(async () => {
    await server.close()
  })

  it('turnutils_stunclient sees the mapped address, OTHER-ADDRESS and change-request answers', async () => {
    const [p0, p1] = server.ports
    const out = await tool('turnutils_stunclient', [
      '-L',
      '127.0.0.1',
      '-p',
      String(p0),
      '127.0.0.1',
    ])
    expect(out).toContain('RFC 5780 response 1')
    expect(otherAddrs(out)[0]).toBe(`127.0.0.2:${p1}`)
    expect(origins(out)[0]).toBe(`127.0.0.1:${p0}`)
    // Response 2 answers a CHANGE-REQUEST (IP and port): it comes from 127.0.0.2:p1.
    expect(out).toContain('RFC 5780 response 2')
    expect(origins(out)).toContain(`127.0.0.2:${p1}`)
    for (const a of reflexive(out)) expect(a).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('turnutils_natdiscovery: Endpoint Independent Mapping and Filtering', async () => {
    const [p0, p1] = server.ports
    const out = await tool('turnutils_natdiscovery', ['-m', '-f', '-p', String(p0), '127.0.0.1'])
    expect(out).toContain('NAT with Endpoint Independent Mapping!')
    expect(out).toContain('NAT with Endpoint Independent Filtering!')
    expect(out).toContain('No ALG: Mapped == XOR-Mapped')
    expect(otherAddrs(out)[0]).toBe(`127.0.0.2:${p1}`)
    // Filtering test: the change-IP+port answer came from the other address.
    expect(origins(out)).toContain(`127.0.0.2:${p1}`)
  })

  it('turnutils_natdiscovery from a fixed local port sees that port mapped', async () => {
    const [p0] = server.ports
    const probe = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    const local = probe.local.port
    await probe.close() // free the port for the tool
    const out = await tool('turnutils_natdiscovery', [
      '-m',
      '-L',
      '127.0.0.1',
      '-l',
      String(local),
      '-p',
      String(p0),
      '127.0.0.1',
    ])
    expect(out).toContain('NAT with Endpoint Independent Mapping!')
    expect(reflexive(out)[0]).toBe(`127.0.0.1:${local}`)
  })
})
