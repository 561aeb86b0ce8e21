import { createHash, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'

/** The first item of an async iterable (e.g. `node.incoming`); throws if it ends empty. */
export async function firstOf<T>(items: AsyncIterable<T>): Promise<T> {
  for await (const item of items) return item
  throw new Error('iterable ended before its first item')
}

/**
 * Sends `bytes` random bytes from `client` while `server` echoes them back, and returns the
 * SHA-256 of what was sent and of what came back, for the caller to compare.
 */
export async function echoRoundTrip(
  client: Duplex,
  server: Duplex,
  bytes: number,
): Promise<{ sent: string; received: string }> {
  const data = randomBytes(bytes)
  server.pipe(server)
  const got: Buffer[] = []
  let n = 0
  const done = new Promise<void>((resolve) =>
    client.on('data', (d: Buffer) => {
      got.push(d)
      n += d.length
      if (n >= bytes) resolve()
    }),
  )
  client.write(data)
  await done
  const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  return { sent: hash(data), received: hash(Buffer.concat(got)) }
}
