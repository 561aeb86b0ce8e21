import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { AedesBroker } from '@p2pd/testkit/aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { acceptKey, decodeFrame, encodeFrame, Opcode, parseClosePayload } from '../src/index.js'
import { call, code, connectPipes, recvAll } from './client.js'
import { type Served, startBroker, startServed } from './harness.js'

// WebSockets per pipe, against two real daemons; the client is the `ws` package (an
// independent implementation) or raw frames over a socket for what `ws` would never send.

let broker: AedesBroker
let a: Served
let b: Served

beforeAll(async () => {
  broker = await startBroker()
  a = await startServed(broker)
  b = await startServed(broker, { limits: { maxWsMessageBytes: 64 * 1024 } })
})

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
  await broker?.close()
})

/** Connects a → b by address; returns both pipe IDs. */
const connectPair = () => connectPipes(a, b)

const wsUrl = (s: Served, pipe: string, query = '') =>
  `${s.daemon.url.replace('http', 'ws')}/pipes/${pipe}/ws${query}`

function open(s: Served, pipe: string, how: 'header' | 'query' | 'protocol' = 'header') {
  if (how === 'query') return new WebSocket(wsUrl(s, pipe, `?token=${s.token}`))
  if (how === 'protocol') return new WebSocket(wsUrl(s, pipe), ['p2pd', `p2pd.token.${s.token}`])
  return new WebSocket(wsUrl(s, pipe), { headers: { authorization: `Bearer ${s.token}` } })
}

/** Collects binary messages until `n` bytes arrived. */
function collect(ws: WebSocket, n: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let got = 0
  return new Promise((resolve, reject) => {
    ws.on('message', (m: Buffer, isBinary: boolean) => {
      if (!isBinary) return reject(new Error('text message'))
      parts.push(m)
      got += m.length
      if (got >= n) resolve(Buffer.concat(parts))
    })
    ws.once('close', () => (got >= n ? undefined : reject(new Error(`closed after ${got} bytes`))))
  })
}

/** The HTTP status a refused upgrade answered with. */
function refused(ws: WebSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    ws.once('open', () => reject(new Error('opened')))
    ws.once('error', () => {})
  })
}

describe('WebSocket per pipe', () => {
  it('two daemons: binary both ways over WebSockets, with every way of passing the token', async () => {
    for (const how of ['header', 'query', 'protocol'] as const) {
      const { out, inb } = await connectPair()
      const wa = open(a, out, how)
      const wb = open(b, inb, how)
      await Promise.all([once(wa, 'open'), once(wb, 'open')])
      if (how === 'protocol') expect(wa.protocol).toBe('p2pd')
      const toB = randomBytes(300_000)
      const toA = randomBytes(120_000)
      const gotB = collect(wb, toB.length)
      const gotA = collect(wa, toA.length)
      for (let i = 0; i < toB.length; i += 50_000) wa.send(toB.subarray(i, i + 50_000))
      for (let i = 0; i < toA.length; i += 40_000) wb.send(toA.subarray(i, i + 40_000)) // b: 64 KiB max
      expect((await gotB).equals(toB)).toBe(true)
      expect((await gotA).equals(toA)).toBe(true)
      // A pipe a WebSocket holds is not readable by recv, nor by a second WebSocket.
      const r = await call(a, 'GET', `/pipes/${out}/recv?timeoutMs=100`)
      expect([r.status, code(r)]).toEqual([409, 'PIPE_IN_USE'])
      expect(await refused(open(a, out))).toBe(409)
      // Closing one WebSocket closes its pipe; the peer's WebSocket closes with 1000.
      const bClosed = once(wb, 'close')
      wa.close(1000)
      const [closeCode] = await bClosed
      expect(closeCode).toBe(1000)
      await expect.poll(async () => (await call(a, 'GET', `/pipes/${out}`)).status).toBe(404)
    }
  }, 60_000)

  it('REST on one side, WebSocket on the other; bytes buffered before the WebSocket come first', async () => {
    const { out, inb } = await connectPair()
    await call(a, 'POST', `/pipes/${out}/send`, { raw: 'early-' })
    await expect
      .poll(
        async () => ((await call(b, 'GET', `/pipes/${inb}`)).json as { buffered: number }).buffered,
      )
      .toBe(6)
    const wb = open(b, inb)
    const got = collect(wb, 11)
    await once(wb, 'open')
    await call(a, 'POST', `/pipes/${out}/send`, { raw: 'later' })
    expect((await got).toString()).toBe('early-later')
    wb.send(Buffer.from('reply'))
    expect((await recvAll(a, out, 5)).toString()).toBe('reply')
    // The peer closing its end closes the WebSocket.
    const closed = once(wb, 'close')
    await call(a, 'DELETE', `/pipes/${out}`)
    expect((await closed)[0]).toBe(1000)
  }, 30_000)

  it('refused upgrades: no token 401, wrong token 401, unknown pipe 404, foreign origin 403', async () => {
    const { out, inb } = await connectPair()
    expect(await refused(new WebSocket(wsUrl(a, out)))).toBe(401)
    expect(await refused(new WebSocket(wsUrl(a, out, '?token=wrong-token-0000000')))).toBe(401)
    expect(await refused(new WebSocket(wsUrl(a, out), ['p2pd', 'p2pd.token.nope']))).toBe(401)
    expect(await refused(open(a, '0123456789abcdef'))).toBe(404)
    const foreign = new WebSocket(wsUrl(a, out, `?token=${a.token}`), {
      origin: 'http://evil.example',
    })
    expect(await refused(foreign)).toBe(403)
    await call(a, 'DELETE', `/pipes/${out}`)
    await call(b, 'DELETE', `/pipes/${inb}`)
  }, 30_000)
})

/** A raw WebSocket client: handshake by hand, then frames we choose (masked or not). */
async function rawClient(
  s: Served,
  pipe: string,
): Promise<{ sock: Socket; frames: () => Promise<Buffer> }> {
  const sock = connect(s.daemon.port, '127.0.0.1')
  await once(sock, 'connect')
  const key = randomBytes(16).toString('base64')
  sock.write(
    `GET /pipes/${pipe}/ws HTTP/1.1\r\nHost: 127.0.0.1:${s.daemon.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${s.token}\r\n\r\n`,
  )
  let buf = Buffer.alloc(0)
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
  })
  await expect.poll(() => buf.includes('\r\n\r\n')).toBe(true)
  const head = buf.subarray(0, buf.indexOf('\r\n\r\n')).toString()
  expect(head).toMatch(/^HTTP\/1\.1 101 /)
  expect(head).toContain(`Sec-WebSocket-Accept: ${acceptKey(key)}`)
  buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4)
  // Resolves with everything the server sent once it closed the connection.
  const frames = async () => {
    if (!sock.destroyed && sock.readyState !== 'closed') await once(sock, 'close')
    return buf
  }
  return { sock, frames }
}

/** The close status in the first close frame of `bytes`. */
function closeStatus(bytes: Buffer): number | undefined {
  let rest = bytes
  for (;;) {
    const got = decodeFrame(rest, { maxPayload: 1 << 20, requireMask: false })
    if (!got) return undefined
    if (got.frame.opcode === Opcode.Close) return parseClosePayload(got.frame.payload).code
    rest = rest.subarray(got.size)
  }
}

describe('keep-alive', () => {
  it('a client that never answers pings is dropped; one that does stays', async () => {
    const c = await startServed(broker, { limits: { wsPingMs: 300 } })
    try {
      const addr = (await call(b, 'GET', '/address')).json as { address: string }
      const pipes = await Promise.all(
        [0, 1].map(async () => {
          const r = await call(c, 'POST', '/connect', { body: { address: addr.address } })
          return (r.json as { pipe: string }).pipe
        }),
      )
      const silent = await rawClient(c, pipes[0] as string)
      const polite = open(c, pipes[1] as string)
      await once(polite, 'open')
      const t0 = performance.now()
      await silent.frames() // the server closes it after one unanswered ping
      expect(performance.now() - t0).toBeLessThan(10_000)
      await new Promise((r) => setTimeout(r, 1_000)) // > 3 ping intervals
      expect(polite.readyState).toBe(WebSocket.OPEN)
      polite.close()
      // Take c's two pipes off b's incoming queue, so later tests pair up their own.
      for (let i = 0; i < 2; i++) {
        const inc = await call(b, 'GET', '/incoming?timeoutMs=10000')
        await call(b, 'DELETE', `/pipes/${(inc.json as { pipe: string }).pipe}`)
      }
    } finally {
      await c.stop()
    }
  }, 30_000)
})

describe('WebSocket protocol violations close the connection with the RFC 6455 status', () => {
  const mask = Buffer.from([9, 8, 7, 6])
  const cases: Array<[string, Buffer, number]> = [
    ['unmasked frame', encodeFrame({ opcode: Opcode.Binary, payload: Buffer.from('x') }), 1002],
    ['text message', encodeFrame({ opcode: Opcode.Text, payload: Buffer.from('hi') }, mask), 1003],
    [
      'a message over the limit, in fragments',
      Buffer.concat([
        encodeFrame({ fin: false, opcode: Opcode.Binary, payload: Buffer.alloc(40_000) }, mask),
        encodeFrame(
          { fin: true, opcode: Opcode.Continuation, payload: Buffer.alloc(40_000) },
          mask,
        ),
      ]),
      1009,
    ],
    ['continuation without a message', encodeFrame({ opcode: Opcode.Continuation }, mask), 1002],
    ['reserved opcode', Buffer.from([0x83, 0x80, 1, 2, 3, 4]), 1002],
  ]
  for (const [what, bytes, status] of cases) {
    it(`${what} → ${status}, and the daemon goes on`, async () => {
      const { out, inb } = await connectPair()
      const { sock, frames } = await rawClient(b, inb)
      sock.write(bytes)
      expect(closeStatus(await frames())).toBe(status)
      expect((await call(b, 'GET', '/status')).status).toBe(200)
      await call(a, 'DELETE', `/pipes/${out}`)
    }, 30_000)
  }

  it('fragments are reassembled into one message; ping is answered with pong', async () => {
    const { out, inb } = await connectPair()
    const { sock, frames } = await rawClient(b, inb)
    sock.write(
      Buffer.concat([
        encodeFrame({ fin: false, opcode: Opcode.Binary, payload: Buffer.from('frag') }, mask),
        encodeFrame({ opcode: Opcode.Ping, payload: Buffer.from('p') }, mask), // between fragments
        encodeFrame(
          { fin: true, opcode: Opcode.Continuation, payload: Buffer.from('ments') },
          mask,
        ),
      ]),
    )
    expect((await recvAll(a, out, 9)).toString()).toBe('fragments')
    sock.write(encodeFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) }, mask))
    const got = await frames()
    const first = decodeFrame(got, { maxPayload: 1 << 20, requireMask: false })
    expect(first?.frame.opcode).toBe(Opcode.Pong)
    expect(first?.frame.payload.toString()).toBe('p')
    expect(closeStatus(got)).toBe(1000)
  }, 30_000)
})
