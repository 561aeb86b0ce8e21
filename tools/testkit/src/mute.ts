import { createServer, type Socket } from 'node:net'

/** A TCP server on loopback that accepts every connection and never answers. */
export interface MuteTcpServer {
  readonly host: string
  readonly port: number
  /** Destroys the connections it holds and stops listening. */
  close(): Promise<void>
}

/**
 * Starts a {@link MuteTcpServer} on `host`, port 0: what a client's deadline must end when the
 * peer connects and then says nothing. It reads and discards what it is sent, so a client's
 * writes never stall on flow control.
 */
export async function startMuteTcpServer(host = '127.0.0.1'): Promise<MuteTcpServer> {
  const held = new Set<Socket>()
  const server = createServer((s) => {
    held.add(s)
    s.on('error', () => {})
    s.once('close', () => held.delete(s))
    s.resume()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    host,
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of held) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
