import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Endpoint } from '@p2pd/interface'
import { expect } from 'vitest'
import { type TurnServerConfig, TurnTcpClient } from '../src/index.js'

/** A TCP peer on `host` (127.0.0.1) that hands every accepted socket to `onSocket`. */
export async function tcpPeer(
  onSocket: (s: Socket) => void = () => {},
  host = '127.0.0.1',
): Promise<{ server: Server; address: Endpoint; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    s.on('error', () => {})
    onSocket(s)
  })
  await new Promise<void>((r) => server.listen(0, host, r))
  const { port } = server.address() as { port: number }
  return {
    server,
    sockets,
    address: { host, port },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** Echoes every byte back. */
export const echo = (s: Socket) => s.pipe(s)

/**
 * Writes `size` random bytes on `from`, reads `size` bytes on `to`, and returns both SHA-256
 * digests (they must match).
 */
export async function transfer(
  from: Socket | import('node:stream').Duplex,
  to: Socket | import('node:stream').Duplex,
  size: number,
): Promise<{ sent: string; received: string }> {
  const data = randomBytes(size)
  const got = createHash('sha256')
  let n = 0
  const done = new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer) => {
      got.update(c)
      n += c.length
      if (n >= size) {
        to.off('data', onData)
        resolve()
      }
    }
    to.on('data', onData)
    to.once('error', reject)
  })
  from.write(data)
  await done
  return {
    sent: createHash('sha256').update(data).digest('hex'),
    received: got.digest('hex'),
  }
}

/** Resolves when `s` closes, or rejects after `ms`. */
export function closedWithin(s: Socket, ms: number): Promise<void> {
  if (s.destroyed && s.closed) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms)
    s.once('close', () => {
      clearTimeout(t)
      resolve()
    })
  })
}

/**
 * A TCP allocation asking for an IPv6 relay on the server of `config`, permitted and connected
 * to an echo peer on ::1: resolves once 256 KiB came back intact. `defer` takes the cleanups.
 */
export async function expectIpv6TcpRelay(
  config: TurnServerConfig,
  defer: (cleanup: () => Promise<void>) => void,
): Promise<void> {
  const echoPeer = await tcpPeer(echo, '::1')
  defer(() => echoPeer.close())
  const c = await TurnTcpClient.allocate(config, { timeoutMs: 5000, addressFamily: 6 })
  defer(() => c.close())
  expect(c.relayed).toMatchObject({ family: 6, host: '::1' })
  await c.createPermission(echoPeer.address)
  const socket = await c.connect(echoPeer.address)
  const { sent, received } = await transfer(socket, socket, 256 * 1024)
  expect(received).toBe(sent)
  socket.destroy()
}

export const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** Everything `s` delivers until its end. */
export function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  s.on('data', (c: Buffer) => chunks.push(c))
  s.resume()
  return once(s, 'end').then(() => Buffer.concat(chunks))
}

/**
 * A connected loopback pair, both half-open capable: [dialled end, accepted end]. Its teardown
 * goes on `cleanup`.
 */
export async function loopbackPair(
  cleanup: Array<() => Promise<unknown> | unknown>,
): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const port = (server.address() as { port: number }).port
  const a = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  const [[b]] = await Promise.all([accepted, once(a, 'connect')])
  cleanup.push(() => {
    a.destroy()
    b.destroy()
    return new Promise<void>((r) => server.close(() => r()))
  })
  return [a, b]
}
