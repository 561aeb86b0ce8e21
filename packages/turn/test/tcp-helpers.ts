import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import type { Endpoint } from '@p2pd/interface'

/** A TCP peer on 127.0.0.1 that hands every accepted socket to `onSocket`. */
export async function tcpPeer(
  onSocket: (s: Socket) => void = () => {},
): Promise<{ server: Server; address: Endpoint; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    s.on('error', () => {})
    onSocket(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return {
    server,
    sockets,
    address: { host: '127.0.0.1', port },
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
