// Deadlines must fire whatever the garbage collector does: every request below goes to a
// server that never answers while gc() runs every 50 ms.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import { TimeoutError } from '@p2pd/interface'
import { gcEvery } from '@p2pd/testkit/gc'
import { afterEach, describe, expect, it } from 'vitest'
import { TurnClient, TurnServer } from '../src/index.js'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

function collectEvery50ms(): void {
  cleanup.push(gcEvery(50))
}

/** A UDP socket on 127.0.0.1 that reads everything and answers nothing. */
async function silentUdp(port = 0): Promise<UdpSocket> {
  const s = createSocket('udp4')
  s.on('message', () => {})
  await new Promise<void>((resolve) => s.bind(port, '127.0.0.1', () => resolve()))
  cleanup.push(() => new Promise<void>((resolve) => s.close(() => resolve())))
  return s
}

/** A TCP server that accepts and never writes a byte. */
async function silentTcp(): Promise<Server> {
  const sockets = new Set<Socket>()
  const srv = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  cleanup.push(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => srv.close(() => resolve()))
  })
  return srv
}

/**
 * Runs `work`, expecting a TimeoutError within `timeoutMs` + 10 % (at least 300 ms of slack: a
 * loaded 2-core machine delays timers that much; a lost deadline hangs far longer); returns
 * the time taken.
 */
async function expectTimeout(timeoutMs: number, work: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  const err = await work().then(
    () => undefined,
    (e: unknown) => e,
  )
  const took = performance.now() - started
  expect(err).toBeInstanceOf(TimeoutError)
  expect(took).toBeLessThanOrEqual(Math.max(timeoutMs * 1.1, timeoutMs + 300))
  expect(took).toBeGreaterThanOrEqual(timeoutMs - 20)
  return took
}

const credentials = { username: 'alice', password: 'wonderland' }

describe('TURN deadlines under forced GC', () => {
  it('Allocate over UDP to a silent server: TimeoutError at the deadline', async () => {
    const silent = await silentUdp()
    collectEvery50ms()
    const { port } = silent.address()
    await expectTimeout(2000, () =>
      TurnClient.allocate({ host: '127.0.0.1', port, ...credentials }, { timeoutMs: 2000 }),
    )
  })

  it('Allocate over TCP to a server that accepts and never answers: the same', async () => {
    const silent = await silentTcp()
    collectEvery50ms()
    const { port } = silent.address() as { port: number }
    await expectTimeout(2000, () =>
      TurnClient.allocate(
        { host: '127.0.0.1', port, transport: 'tcp', ...credentials },
        { timeoutMs: 2000 },
      ),
    )
  })

  it('ChannelBind after the server went silent: TimeoutError at the request deadline', async () => {
    const server = new TurnServer({ users: { alice: 'wonderland' }, allowLoopbackPeers: true })
    const { port } = await server.start()
    const client = await TurnClient.allocate(
      { host: '127.0.0.1', port, ...credentials },
      { timeoutMs: 3000, requestTimeoutMs: 1500 },
    )
    cleanup.push(() => client.close())
    await server.close()
    await silentUdp(port)
    collectEvery50ms()
    await expectTimeout(1500, () => client.bindChannel({ host: '127.0.0.1', port: 9 }))
    await expectTimeout(1500, () => client.refresh())
  })
})
