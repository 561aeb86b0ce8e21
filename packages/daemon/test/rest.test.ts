import { randomBytes } from 'node:crypto'
import type { AedesBroker } from '@p2pd/testkit/aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApiDocument } from '../src/index.js'
import { answers, call, code, connectPipes, recvAll } from './client.js'
import { type Served, startBroker, startServed } from './harness.js'
import { checkAnswers } from './openapi-check.js'

// The REST API over real HTTP, against two real daemons whose real nodes signal through an
// aedes broker on loopback. Every answer is kept and checked against /openapi.json at the end.

let broker: AedesBroker
let a: Served
let b: Served

beforeAll(async () => {
  broker = await startBroker()
  a = await startServed(broker, { cors: ['http://app.example'] })
  b = await startServed(broker, { limits: { pipeBufferBytes: 64 * 1024 } })
})

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
  await broker?.close()
})

/** Connects a → b by address; returns both pipe IDs. */
const connectPair = () => connectPipes(a, b)

describe('authentication and CORS', () => {
  it('no token → 401 JSON, wrong token → 401, right token → 200', async () => {
    const none = await call(a, 'GET', '/status', { token: null })
    expect(none.status).toBe(401)
    expect(code(none)).toBe('UNAUTHORIZED')
    const wrong = await call(a, 'GET', '/status', { token: `${a.token.slice(0, -1)}x` })
    expect(wrong.status).toBe(401)
    const short = await call(a, 'GET', '/status', { token: 'x' })
    expect(short.status).toBe(401)
    const other = await call(a, 'GET', '/status', { token: b.token })
    expect(other.status).toBe(401)
    const basic = await call(a, 'GET', '/openapi.json', {
      token: null,
      headers: { authorization: `Basic ${a.token}` },
    })
    expect(basic.status).toBe(401)
    const ok = await call(a, 'GET', '/status')
    expect(ok.status).toBe(200)
    // Query tokens are for WebSockets only.
    const query = await call(a, 'GET', `/status?token=${a.token}`, { token: null })
    expect(query.status).toBe(401)
  })

  it('every route needs the token, unknown ones included', async () => {
    for (const [m, p] of [
      ['GET', '/openapi.json'],
      ['GET', '/address'],
      ['GET', '/nat'],
      ['POST', '/connect'],
      ['GET', '/pipes'],
      ['GET', '/incoming'],
      ['DELETE', '/pipes/0000000000000000'],
      ['GET', '/nope'],
    ] as const) {
      expect((await call(a, m, p, { token: null })).status, `${m} ${p}`).toBe(401)
    }
  })

  it('a foreign Origin is refused with 403 and no CORS header; a configured one is allowed', async () => {
    const foreign = await call(a, 'GET', '/status', { headers: { origin: 'http://evil.example' } })
    expect(foreign.status).toBe(403)
    expect(code(foreign)).toBe('ORIGIN_FORBIDDEN')
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
    const allowed = await call(a, 'GET', '/status', { headers: { origin: 'http://app.example' } })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.example')
    // b has no CORS list: every browser origin is foreign, the daemon's own included.
    const self = await call(b, 'GET', '/status', { headers: { origin: b.daemon.url } })
    expect(self.status).toBe(403)
    const none = await call(a, 'GET', '/status')
    expect(none.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('preflight: answered for a configured origin without a token, 403 otherwise', async () => {
    const ok = await fetch(`${a.daemon.url}/connect`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://app.example')
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/Authorization/)
    const bad = await fetch(`${a.daemon.url}/connect`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(bad.status).toBe(403)
    expect(bad.headers.get('access-control-allow-origin')).toBeNull()
    // Not a preflight (no Origin): the token is needed like everywhere else.
    const plain = await fetch(`${a.daemon.url}/connect`, { method: 'OPTIONS' })
    expect(plain.status).toBe(401)
  })
})

describe('information endpoints', () => {
  it('status, address, nat, pipes, openapi.json', async () => {
    const status = await call(a, 'GET', '/status')
    expect(status.json).toMatchObject({ api: 1, nodeId: a.node.nodeId, incoming: true })
    const addr = await call(a, 'GET', '/address')
    expect(addr.json).toEqual({ address: a.node.addressText, nodeId: a.node.nodeId })
    const nat = await call(a, 'GET', '/nat')
    expect(nat.json).toEqual({
      interfaces: [
        {
          family: 'ipv4',
          ext: '127.0.0.1',
          nic: '127.0.0.1',
          port: a.node.listening.port,
          nat: { type: 1, delta: { type: 1, value: 0 } },
        },
      ],
    })
    expect((await call(a, 'GET', '/pipes')).json).toMatchObject({ pipes: expect.any(Array) })
    const doc = await call(a, 'GET', '/openapi.json')
    expect(doc.status).toBe(200)
    expect((doc.json as { openapi: string }).openapi).toMatch(/^3\.1\./)
  })
})

describe('pipes over REST', () => {
  it('connect by address, data both ways (raw and base64 JSON), list, close, then 404', async () => {
    const { out, inb } = await connectPair()
    const toB = randomBytes(200_000)
    const toA = randomBytes(50_000)
    const sent = await call(a, 'POST', `/pipes/${out}/send`, { raw: toB })
    expect(sent.json).toEqual({ sent: toB.length })
    const sent2 = await call(b, 'POST', `/pipes/${inb}/send`, {
      body: { data: toA.toString('base64') },
    })
    expect(sent2.json).toEqual({ sent: toA.length })
    expect((await recvAll(b, inb, toB.length)).equals(toB)).toBe(true)
    expect((await recvAll(a, out, toA.length)).equals(toA)).toBe(true)

    const info = await call(a, 'GET', `/pipes/${out}`)
    expect(info.json).toMatchObject({ id: out, peer: b.node.nodeId, direction: 'outbound' })
    const list = (await call(b, 'GET', '/pipes')).json as { pipes: Array<{ id: string }> }
    expect(list.pipes.map((p) => p.id)).toContain(inb)

    const small = await call(a, 'GET', `/pipes/${out}/recv?timeoutMs=200&max=10`)
    expect(small.status).toBe(204)
    await call(b, 'POST', `/pipes/${inb}/send`, { raw: 'hello world' })
    const ten = await call(a, 'GET', `/pipes/${out}/recv?timeoutMs=5000&max=5`)
    expect(ten.body.toString()).toBe('hello')

    expect((await call(a, 'DELETE', `/pipes/${out}`)).status).toBe(204)
    expect((await call(a, 'GET', `/pipes/${out}`)).status).toBe(404)
    // b sees the end: what was left, then 410 PIPE_EOF.
    let last = await call(b, 'GET', `/pipes/${inb}/recv?timeoutMs=10000`)
    while (last.status === 204) last = await call(b, 'GET', `/pipes/${inb}/recv?timeoutMs=10000`)
    expect(last.status).toBe(410)
    expect(code(last)).toBe('PIPE_EOF')
    const closed = await call(b, 'POST', `/pipes/${inb}/send`, { raw: 'late' })
    expect([200, 410]).toContain(closed.status) // the close may still be in flight
    expect((await call(b, 'DELETE', `/pipes/${inb}`)).status).toBe(204)
  }, 60_000)

  it('8 pipes at once, each with its own data checked', async () => {
    const pairs = await Promise.all(Array.from({ length: 8 }, () => connectPairSafe()))
    // Incoming order is not connect order: match the pairs by the first bytes.
    await Promise.all(
      pairs.map(async ({ out }, i) => {
        const data = Buffer.concat([Buffer.from([i]), randomBytes(100_000)])
        await call(a, 'POST', `/pipes/${out}/send`, { raw: data })
        return data
      }),
    )
    const inbound = (
      (await call(b, 'GET', '/pipes')).json as {
        pipes: Array<{ id: string; direction: string; closed: boolean }>
      }
    ).pipes
    const ids = pairs.map((p) => p.inb)
    for (const id of ids) expect(inbound.map((p) => p.id)).toContain(id)
    const got = await Promise.all(ids.map((id) => recvAll(b, id, 100_001)))
    const firsts = got.map((g) => g[0]).sort()
    expect(firsts).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    for (const g of got) expect(g.length).toBe(100_001)
    await Promise.all(pairs.map((p) => call(a, 'DELETE', `/pipes/${p.out}`)))
    await Promise.all(pairs.map((p) => call(b, 'DELETE', `/pipes/${p.inb}`)))
  }, 90_000)

  it('backpressure: an unread pipe holds at most its buffer limit, and nothing is lost', async () => {
    const { out, inb } = await connectPair()
    // More than every socket buffer on the way can hold (loopback TCP buffers grow to MBs).
    const data = randomBytes(24 << 20)
    let sentBytes = 0
    const sender = (async () => {
      for (let i = 0; i < 24; i++) {
        const chunk = data.subarray(i << 20, (i + 1) << 20)
        const r = await call(a, 'POST', `/pipes/${out}/send`, { raw: chunk })
        expect(r.status).toBe(200)
        sentBytes += chunk.length
      }
    })()
    await new Promise((r) => setTimeout(r, 1_500))
    const info = (await call(b, 'GET', `/pipes/${inb}`)).json as { buffered: number }
    // b's limit is 64 KiB: the pipe is paused once past it (one chunk may overshoot).
    expect(info.buffered).toBeLessThanOrEqual(64 * 1024 + 256 * 1024)
    expect(sentBytes).toBeLessThan(data.length) // the sender is held back
    const got = await recvAll(b, inb, data.length)
    await sender
    expect(got.equals(data)).toBe(true)
    await call(a, 'DELETE', `/pipes/${out}`)
    await call(b, 'DELETE', `/pipes/${inb}`)
  }, 90_000)
})

async function connectPairSafe() {
  return connectPair()
}

describe('bad input', () => {
  it('connect: bad JSON, wrong shapes, bad address, names, unreachable peer', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{}, 400, 'BAD_REQUEST'],
      [{ address: 'x', name: 'y' }, 400, 'BAD_REQUEST'],
      [{ address: 42 }, 400, 'BAD_ADDRESS'],
      [{ address: 'not-an-address' }, 400, 'BAD_ADDRESS'],
      [{ name: '' }, 400, 'BAD_NAME'],
      [{ name: 'a b' }, 400, 'BAD_NAME'],
      [{ address: a.node.addressText, timeoutMs: 0 }, 400, 'BAD_REQUEST'],
      [{ address: a.node.addressText, timeoutMs: 'soon' }, 400, 'BAD_REQUEST'],
      [{ name: 'alice.abcdef' }, 501, 'NAMES_UNAVAILABLE'], // these nodes have no resolver
      [{ name: 'Not_A_Name' }, 400, 'BAD_NAME'],
    ]
    for (const [body, status, c] of cases) {
      const r = await call(a, 'POST', '/connect', { body })
      expect([r.status, code(r)], `${JSON.stringify(body)} ${r.body}`).toEqual([status, c])
    }
    for (const raw of ['{', '[]', '"x"', 'null', '']) {
      const r = await call(a, 'POST', '/connect', { raw, contentType: 'application/json' })
      expect([r.status, code(r)], raw).toEqual([400, 'BAD_JSON'])
    }
  })

  it('connect to a node that is gone: 502 or 504 within the deadline, never a hang', async () => {
    const gone = await startServed(broker)
    const address = gone.node.addressText
    await gone.stop()
    const t0 = performance.now()
    const r = await call(a, 'POST', '/connect', { body: { address, timeoutMs: 3_000 } })
    expect([502, 504]).toContain(r.status)
    expect(performance.now() - t0).toBeLessThan(15_000)
  }, 30_000)

  it('unknown pipe → 404 PIPE_NOT_FOUND on every pipe route', async () => {
    for (const [m, p] of [
      ['GET', '/pipes/0123456789abcdef'],
      ['DELETE', '/pipes/0123456789abcdef'],
      ['POST', '/pipes/0123456789abcdef/send'],
      ['GET', '/pipes/0123456789abcdef/recv'],
      ['GET', '/pipes/0123456789abcdef/ws'],
      ['GET', '/pipes/..%2F..%2Fstatus/recv'],
    ] as const) {
      const r = await call(a, m, p, m === 'POST' ? { raw: 'x' } : {})
      expect([r.status, code(r)], `${m} ${p}`).toEqual([404, 'PIPE_NOT_FOUND'])
    }
  })

  it('unknown route 404, wrong method 405 with Allow, plain GET of a WebSocket route 426', async () => {
    const r = await call(a, 'GET', '/v2/status')
    expect([r.status, code(r)]).toEqual([404, 'NOT_FOUND'])
    const m = await call(a, 'PUT', '/status')
    expect([m.status, code(m)]).toEqual([405, 'METHOD_NOT_ALLOWED'])
    expect(m.headers.get('allow')).toBe('GET')
    const d = await call(a, 'POST', '/pipes')
    expect(d.status).toBe(405)
    const { out, inb } = await connectPair()
    const ws = await call(a, 'GET', `/pipes/${out}/ws`)
    expect([ws.status, code(ws)]).toEqual([426, 'UPGRADE_REQUIRED'])
    await call(a, 'DELETE', `/pipes/${out}`)
    await call(b, 'DELETE', `/pipes/${inb}`)
  }, 30_000)

  it('send and recv: bad base64, bad parameters, body over 1 MiB → 413', async () => {
    const { out, inb } = await connectPair()
    for (const data of ['***', 'abc', 42]) {
      const r = await call(a, 'POST', `/pipes/${out}/send`, { body: { data } })
      expect([r.status, code(r)], String(data)).toEqual([400, 'BAD_REQUEST'])
    }
    const notJson = await call(a, 'POST', `/pipes/${out}/send`, {
      raw: '{nope',
      contentType: 'application/json',
    })
    expect(code(notJson)).toBe('BAD_JSON')
    for (const q of ['timeoutMs=abc', 'timeoutMs=-1', 'timeoutMs=999999999', 'max=0', 'max=1.5']) {
      const r = await call(a, 'GET', `/pipes/${out}/recv?${q}`)
      expect([r.status, code(r)], q).toEqual([400, 'BAD_PARAM'])
    }
    const badPoll = await call(a, 'GET', '/incoming?timeoutMs=x')
    expect(badPoll.status).toBe(400)
    const big = await call(a, 'POST', `/pipes/${out}/send`, { raw: Buffer.alloc((1 << 20) + 1) })
    expect([big.status, code(big)]).toEqual([413, 'BODY_TOO_LARGE'])
    const bigConnect = await call(a, 'POST', '/connect', {
      raw: Buffer.alloc(2 << 20, 32),
      contentType: 'application/json',
    })
    expect(bigConnect.status).toBe(413)
    // The daemon is fine afterwards and the pipe still works.
    await call(a, 'POST', `/pipes/${out}/send`, { raw: 'still here' })
    expect((await recvAll(b, inb, 10)).toString()).toBe('still here')
    await call(a, 'DELETE', `/pipes/${out}`)
    await call(b, 'DELETE', `/pipes/${inb}`)
  }, 30_000)

  it('long-polls answer 204 at their timeout', async () => {
    const t0 = performance.now()
    const r = await call(a, 'GET', '/incoming?timeoutMs=300')
    expect(r.status).toBe(204)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250)
  })
})

describe('the OpenAPI document', () => {
  // Runs last in this file: every answer above is checked against the document.
  it('describes every answer the tests got, and every documented route was called', async () => {
    const doc = openApiDocument()
    expect(answers.length).toBeGreaterThan(50)
    expect(checkAnswers(doc, answers)).toEqual([])
  })
})
