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
