import { createServer } from 'node:net'
import { abortReason } from '@p2pd/interface'

/**
 * A fresh local port on `host`, found by binding port 0 and releasing it. Every socket of a
 * punch is then bound to its port *explicitly*: libuv sets SO_REUSEADDR only on an explicit
 * bind, and that is what lets the STUN connection, the punch connects and (on the accepting
 * side) a listener share the port. Never the node's listen port.
 */
export function freePort(host: string, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const a = server.address()
      const port = a && typeof a !== 'string' ? a.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * `count` distinct fresh ports on `host` (none of `exclude`), found a batch at a time. A port
 * may be taken by someone else before it is bound; the connect loop then retries it.
 */
export async function freePorts(
  host: string,
  count: number,
  exclude: Iterable<number>,
  signal?: AbortSignal,
): Promise<number[]> {
  const skip = new Set(exclude)
  const out = new Set<number>()
  for (let rounds = 0; out.size < count && rounds < count + 16; rounds++) {
    const batch = Math.min(64, count - out.size)
    const got = await Promise.all(Array.from({ length: batch }, () => freePort(host, signal)))
    for (const p of got) if (!skip.has(p) && out.size < count) out.add(p)
  }
  return [...out]
}
