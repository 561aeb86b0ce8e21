import { createServer, type Server } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeTcpCallback,
  decodeTcpCallbackResult,
  encodeTcpCallback,
  encodeTcpCallbackResult,
  StunError,
  StunServer,
  StunTcpClient,
  TCP_CALLBACK,
  TCP_CALLBACK_RESULT,
  TcpCallbackDialer,
} from '../src/index.js'

describe('TCP-CALLBACK codec', () => {
  it('round-trips requests and results', () => {
    const req = { changeIp: true, changePort: false, timeoutMs: 700, port: 61234 }
    expect(decodeTcpCallback(encodeTcpCallback(req))).toEqual(req)
    const noPort = { changeIp: false, changePort: true, timeoutMs: 250 }
    expect(decodeTcpCallback(encodeTcpCallback(noPort))).toEqual(noPort)
    const res = { outcome: 'refused', elapsedMs: 12 } as const
    expect(decodeTcpCallbackResult(encodeTcpCallbackResult(res))).toEqual(res)
  })

  it('clamps the wait a client asks for to 100–3000 ms', () => {
    const enc = (timeoutMs: number) =>
      encodeTcpCallback({ changeIp: false, changePort: true, timeoutMs })
    expect(decodeTcpCallback(enc(1)).timeoutMs).toBe(100)
    expect(decodeTcpCallback(enc(60_000)).timeoutMs).toBe(3000)
  })

  it('rejects any malformed value with a typed StunError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        for (const decode of [decodeTcpCallback, decodeTcpCallbackResult]) {
          try {
            decode(bytes)
          } catch (err) {
            expect(err).toBeInstanceOf(StunError)
            expect((err as StunError).code).toBe('STUN_BAD_ATTRIBUTE')
          }
        }
      }),
    )
    expect(() => decodeTcpCallbackResult(Buffer.from([9, 0, 0, 0]))).toThrow(StunError)
    expect(() => encodeTcpCallback({ changeIp: true, changePort: true, timeoutMs: 0 })).toThrow(
      StunError,
    )
  })
})

describe('StunServer answers TCP-CALLBACK by dialling the client back', () => {
  let server: StunServer
  beforeAll(async () => {
    server = new StunServer({ rateLimit: false })
    await server.start()
  })
  afterAll(() => server.close())

  /** A connection from an explicitly bound port, a listener on that port, one request. */
  async function callback(req: { changeIp: boolean; port?: number }, listenToo = true) {
    const c = await StunTcpClient.connect(server.primary, {
      localAddress: '127.0.0.1',
      localPort: 0,
      timeoutMs: 2000,
    })
    const seen: string[] = []
    let listener: Server | undefined
    if (listenToo) {
      listener = createServer((s) => {
        seen.push(s.remoteAddress as string)
        s.destroy()
      })
      await new Promise<void>((r) => listener?.listen({ host: '127.0.0.1', port: c.local.port }, r))
    }
    try {
      const r = await c.binding({
        attributes: [
          {
            type: TCP_CALLBACK,
            value: encodeTcpCallback({ changePort: true, timeoutMs: 800, ...req }),
          },
        ],
        timeoutMs: 3000,
      })
      const raw = r.attributes.others.find((a) => a.type === TCP_CALLBACK_RESULT)
      return { result: raw && decodeTcpCallbackResult(raw.value), seen, mapped: r.mapped }
    } finally {
      listener?.close()
      await c.close()
    }
  }

  it('dials from the other IP and reports connected; the listener saw 127.0.0.2', async () => {
    const r = await callback({ changeIp: true })
    expect(r.result?.outcome).toBe('connected')
    expect(r.seen).toEqual(['127.0.0.2'])
    expect(r.mapped.port).toBeGreaterThan(0)
  })

  it('dials from the same IP (another port) when only the port changes', async () => {
    const r = await callback({ changeIp: false })
    expect(r.result?.outcome).toBe('connected')
    expect(r.seen).toEqual(['127.0.0.1'])
  })

  it('reports refused for a port nobody listens on (the RST a closed port draws)', async () => {
    const r = await callback({ changeIp: true, port: 9 }, false)
    expect(r.result?.outcome).toBe('refused')
  })

  it('a server with tcpCallback: false answers a plain Binding without a result', async () => {
    const plain = new StunServer({ rateLimit: false, tcpCallback: false })
    await plain.start()
    try {
      const c = await StunTcpClient.connect(plain.primary, { timeoutMs: 2000 })
      const r = await c.binding({
        attributes: [
          {
            type: TCP_CALLBACK,
            value: encodeTcpCallback({ changeIp: true, changePort: true, timeoutMs: 500 }),
          },
        ],
        timeoutMs: 2000,
      })
      await c.close()
      expect(r.attributes.others.some((a) => a.type === TCP_CALLBACK_RESULT)).toBe(false)
    } finally {
      await plain.close()
    }
  })
})

describe('TcpCallbackDialer limits what strangers can make it send', () => {
  it('caps dials in flight per source and in total; the rest are answered limited at once', async () => {
    // A loopback port that was free a moment ago: each dial is refused at once.
    const hold = createServer(() => {})
    await new Promise<void>((r) => hold.listen({ host: '127.0.0.1', port: 0, backlog: 0 }, r))
    const port = (hold.address() as { port: number }).port
    hold.close()
    const dialer = new TcpCallbackDialer({ maxInFlight: 3, maxPerSource: 2 })
    const req = { changeIp: false, changePort: true, timeoutMs: 1000 }
    const a = dialer.dial({ host: '127.0.0.1', port }, '127.0.0.1', req)
    const b = dialer.dial({ host: '127.0.0.1', port }, '127.0.0.1', req)
    const c = dialer.dial({ host: '127.0.0.1', port }, '127.0.0.1', req)
    const d = dialer.dial({ host: '127.0.0.3', port }, '127.0.0.1', req)
    const e = dialer.dial({ host: '127.0.0.4', port }, '127.0.0.1', req)
    const out = await Promise.all([a, b, c, d, e])
    expect(out.map((r) => r.outcome)).toEqual([
      'refused',
      'refused',
      'limited',
      'refused',
      'limited',
    ])
    // Once they are done the budget is back.
    const again = await dialer.dial({ host: '127.0.0.1', port }, '127.0.0.1', req)
    expect(again.outcome).toBe('refused')
    dialer.close()
    const closed = await dialer.dial({ host: '127.0.0.1', port }, '127.0.0.1', req)
    expect(closed.outcome).toBe('limited')
  })
})
