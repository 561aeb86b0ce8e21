// TCP allocations under forced GC: every step has a deadline that fires whatever the
// collector does — a server that accepts and never answers, and a server that answers
// everything but Connect.
import { connect, createServer, type Server, type Socket } from 'node:net'
import { TimeoutError } from '@p2pd/interface'
import { gcEvery } from '@p2pd/testkit/gc'
import { afterEach, describe, expect, it } from 'vitest'
import { TurnServer, TurnTcpClient } from '../src/index.js'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

async function listen(srv: Server): Promise<number> {
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  const sockets = new Set<Socket>()
  srv.on('connection', (s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  cleanup.push(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => srv.close(() => resolve()))
  })
  return (srv.address() as { port: number }).port
}

/** A TCP proxy to `target` that drops every STUN request of `method` from the client. */
function dropping(target: number, method: number): Server {
  return createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    upstream.pipe(client)
    let buf = Buffer.alloc(0)
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 20 && buf.length >= 20 + buf.readUInt16BE(2)) {
        const size = 20 + buf.readUInt16BE(2)
        const type = buf.readUInt16BE(0)
        // The method bits of the message type (RFC 8489 §5), class bits masked out.
        const m = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2)
        if (m !== method) upstream.write(buf.subarray(0, size))
        buf = buf.subarray(size)
      }
    })
  })
}

async function expectTimeout(timeoutMs: number, work: () => Promise<unknown>): Promise<void> {
  const started = performance.now()
  const err = await work().then(
    () => undefined,
    (e: unknown) => e,
  )
  const took = performance.now() - started
  expect(err).toBeInstanceOf(TimeoutError)
  expect(took).toBeLessThanOrEqual(timeoutMs * 1.1 + 50)
  expect(took).toBeGreaterThanOrEqual(timeoutMs - 20)
}

describe('TCP allocation deadlines under forced GC', () => {
  it('Allocate to a server that accepts and never answers: TimeoutError at the deadline', async () => {
    const port = await listen(createServer())
    cleanup.push(gcEvery(50))
    await expectTimeout(2000, () =>
      TurnTcpClient.allocate(
        { host: '127.0.0.1', port, transport: 'tcp', username: 'u', password: 'p' },
        { timeoutMs: 2000 },
      ),
    )
  })

  it('connect() whose Connect is never answered: TimeoutError at its deadline', async () => {
    const server = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true })
    const at = await server.start()
    cleanup.push(() => server.close())
    const port = await listen(dropping(at.port, 0x000a))
    const c = await TurnTcpClient.allocate(
      { host: '127.0.0.1', port, transport: 'tcp', username: 'u', password: 'p' },
      { timeoutMs: 5000, requestTimeoutMs: 5000 },
    )
    cleanup.push(() => c.close())
    await c.createPermission({ host: '127.0.0.1', port: 1 })
    cleanup.push(gcEvery(50))
    await expectTimeout(1500, () => c.connect({ host: '127.0.0.1', port: 9 }, { timeoutMs: 1500 }))
    // The client is still usable afterwards.
    expect(await c.refresh()).toBeGreaterThan(0)
  })
})
