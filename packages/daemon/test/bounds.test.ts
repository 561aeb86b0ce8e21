import type { Socket } from 'node:net'
import type { AedesBroker } from '@p2pd/testkit/aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { call, code } from './client.js'
import { type Served, startBroker, startServed } from './harness.js'
import { getRequest, parse, rawExchange, rawSocket } from './raw-http.js'

// Every bound a local client (or a hostile page's requests) could push on: header lines and
// bytes, slow headers, body size, pipes, WebSockets, connections. Real daemons, real sockets,
// small limits so each bound is reached quickly. Time bounds are generous (loaded CI).

let broker: AedesBroker
let c: Served
let d: Served

beforeAll(async () => {
  broker = await startBroker()
  c = await startServed(broker, {
    limits: { headersTimeoutMs: 1_000, maxBodyBytes: 1024, maxPipes: 2, maxWebSockets: 1 },
  })
  d = await startServed(broker)
})

afterAll(async () => {
  await Promise.allSettled([c?.stop(), d?.stop()])
  await broker?.close()
})

const host = (s: Served) => `host: 127.0.0.1:${s.daemon.port}`
const auth = (s: Served) => `authorization: Bearer ${s.token}`
const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code

describe('request bounds', () => {
  it('64 header lines pass; 65 are 431 TOO_MANY_HEADERS; 20 KiB of headers is 431 and closes', async () => {
    const port = c.daemon.port
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `x-f${i}: 1`)
    // host, authorization and connection: close are three of the lines.
    const ok = await rawExchange(port, getRequest('/status', [host(c), auth(c), ...filler(61)]))
    expect(ok.status, ok.head).toBe(200)
    const many = await rawExchange(port, getRequest('/status', [host(c), auth(c), ...filler(62)]))
    expect(many.status, many.head).toBe(431)
    expect(errorCode(many.body)).toBe('TOO_MANY_HEADERS')
    // Thousands of tiny lines: refused, whatever the order (an Origin among them is not lost).
    const flood = await rawExchange(
      port,
      getRequest('/status', [...filler(3000), host(c), auth(c), 'origin: http://evil.example']),
    )
    expect(flood.status).toBe(431)
    const big = await rawExchange(
      port,
      getRequest('/status', [host(c), auth(c), `x-big: ${'a'.repeat(20 * 1024)}`]),
    )
    expect(big.status, big.head).toBe(431)
    expect(big.closedAfterMs).toBeGreaterThanOrEqual(0)
  })

  it('slow headers (slowloris) and a silent connection are dropped after the headers timeout', async () => {
    const port = c.daemon.port
    const trickle = await rawSocket(port)
    const t0 = performance.now()
    let got = ''
    trickle.setEncoding('latin1').on('data', (s: string) => {
      got += s
    })
    trickle.write(`GET /status HTTP/1.1\r\n${host(c)}\r\n`)
    const drip = setInterval(() => trickle.writable && trickle.write('x'), 200)
    const silent = await rawSocket(port)
    const t1 = performance.now()
    let silentGot = ''
    silent.setEncoding('latin1').on('data', (s: string) => {
      silentGot += s
    })
    const [trickleMs, silentMs] = await Promise.all([
      closedAfter(trickle, t0),
      closedAfter(silent, t1),
    ])
    clearInterval(drip)
    // headersTimeoutMs is 1 s here (10 s by default): never earlier, and well before 15 s.
    expect(trickleMs).toBeGreaterThanOrEqual(900)
    expect(trickleMs).toBeLessThan(15_000)
    expect(silentMs).toBeGreaterThanOrEqual(900)
    expect(silentMs).toBeLessThan(15_000)
    expect(parse(got).status).toBe(408)
    expect(parse(silentGot).status).toBe(408)
  }, 40_000)

  it('a body over the limit is 413, declared or chunked, and the connection is closed', async () => {
    const port = c.daemon.port
    const declared = await rawExchange(
      port,
      `POST /connect HTTP/1.1\r\n${host(c)}\r\n${auth(c)}\r\ncontent-type: application/json\r\n` +
        'content-length: 5000\r\n\r\n{"address":',
    )
    expect(declared.status, declared.head).toBe(413)
    expect(errorCode(declared.body)).toBe('BODY_TOO_LARGE')
    const chunk = `${(600).toString(16)}\r\n${'a'.repeat(600)}\r\n`
    const chunked = await rawExchange(
      port,
      `POST /connect HTTP/1.1\r\n${host(c)}\r\n${auth(c)}\r\ncontent-type: application/json\r\n` +
        `transfer-encoding: chunked\r\n\r\n${chunk}${chunk}`,
    )
    expect(chunked.status, chunked.head).toBe(413)
    expect(chunked.head).toMatch(/connection: close/i)
    expect(chunked.closedAfterMs).toBeGreaterThanOrEqual(0)
  })

  it('pipes: 503 TOO_MANY_PIPES past the limit, room again once one is closed', async () => {
    const addr = ((await call(d, 'GET', '/address')).json as { address: string }).address
    const connectOne = () => call(c, 'POST', '/connect', { body: { address: addr } })
    const first = await connectOne()
    const second = await connectOne()
    expect([first.status, second.status]).toEqual([200, 200])
    const third = await connectOne()
    expect(third.status).toBe(503)
    expect(code(third)).toBe('TOO_MANY_PIPES')
    const p1 = (first.json as { pipe: string }).pipe
    expect((await call(c, 'DELETE', `/pipes/${p1}`)).status).toBe(204)
    const again = await connectOne()
    expect(again.status, again.body.toString()).toBe(200)
    for (const a of [second, again])
      await call(c, 'DELETE', `/pipes/${(a.json as { pipe: string }).pipe}`)
  }, 60_000)

  it('WebSockets: 503 TOO_MANY_WEBSOCKETS past the limit, room again once one closed', async () => {
    const addr = ((await call(d, 'GET', '/address')).json as { address: string }).address
    const pipes: string[] = []
    for (let i = 0; i < 2; i++) {
      const r = await call(c, 'POST', '/connect', { body: { address: addr } })
      expect(r.status, r.body.toString()).toBe(200)
      pipes.push((r.json as { pipe: string }).pipe)
    }
    const url = (pipe: string) =>
      `ws://127.0.0.1:${c.daemon.port}/pipes/${pipe}/ws?token=${c.token}`
    const first = new WebSocket(url(pipes[0] as string))
    await new Promise((resolve, reject) => {
      first.once('open', resolve)
      first.once('error', reject)
    })
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url(pipes[1] as string))
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.once('open', () => reject(new Error('opened past the limit')))
      ws.once('error', () => {})
    })
    expect(refused).toBe(503)
    first.close()
    await new Promise((r) => first.once('close', r))
    // The daemon forgets the closed one as its socket closes: retry until it has.
    await expect
      .poll(
        async () => {
          const ws = new WebSocket(url(pipes[1] as string))
          const opened = await new Promise<boolean>((resolve) => {
            ws.once('open', () => resolve(true))
            ws.once('unexpected-response', () => resolve(false))
            ws.once('error', () => resolve(false))
          })
          ws.terminate()
          return opened
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe(true)
  }, 60_000)

  it('connections: past maxConnections new ones are dropped unanswered; room again after', async () => {
    const e = await startServed(broker, { limits: { maxConnections: 4 } })
    const held: Socket[] = []
    try {
      for (let i = 0; i < 4; i++) {
        const s = await rawSocket(e.daemon.port)
        s.write(`GET /incoming?timeoutMs=30000 HTTP/1.1\r\n${host(e)}\r\n${auth(e)}\r\n\r\n`)
        held.push(s)
      }
      // Let the daemon register all four.
      await expect.poll(() => pollOnce(e), { timeout: 20_000 }).toBe('dropped')
      for (const s of held) s.destroy()
      await expect.poll(() => pollOnce(e), { timeout: 20_000 }).toBe(200)
    } finally {
      for (const s of held) s.destroy()
      await e.stop()
    }
  }, 60_000)
})

/** One GET /status on a new connection: its status, or 'dropped' when closed unanswered. */
async function pollOnce(s: Served): Promise<number | 'dropped'> {
  const a = await rawExchange(s.daemon.port, getRequest('/status', [host(s), auth(s)]), 10_000)
  return a.status === 0 && a.closedAfterMs >= 0 ? 'dropped' : a.status
}

/** Ms from `t0` until the server closed `sock`. */
async function closedAfter(sock: Socket, t0: number): Promise<number> {
  if (!sock.destroyed) await new Promise((r) => sock.once('close', r))
  return performance.now() - t0
}
