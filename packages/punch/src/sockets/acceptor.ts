import { createServer, type Server, type Socket } from 'node:net'

/**
 * The listening side of a punch whose NAT accepts unsolicited SYNs (or a LAN / same-machine
 * peer): one listener per held port, bound explicitly next to the open STUN connection (both
 * carry SO_REUSEADDR). Connections from any IP other than `expectHost` are closed at once; the
 * secure channel authenticates the rest.
 */
export class Acceptor {
  readonly #servers: Server[] = []
  #closed = false

  private constructor(readonly onSocket: (socket: Socket) => void) {}

  static async listen(opts: {
    host: string
    ports: readonly number[]
    expectHost?: string
    onSocket: (socket: Socket) => void
  }): Promise<Acceptor> {
    const acceptor = new Acceptor(opts.onSocket)
    try {
      for (const port of opts.ports) {
        const server = createServer((socket) => {
          socket.on('error', () => {})
          const from = (socket.remoteAddress ?? '').replace(/^::ffff:/, '')
          if (acceptor.#closed || (opts.expectHost && from !== opts.expectHost)) {
            return void socket.destroy()
          }
          acceptor.onSocket(socket)
        })
        acceptor.#servers.push(server)
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen({ host: opts.host, port }, () => {
            server.off('error', reject)
            resolve()
          })
        })
      }
    } catch (err) {
      await acceptor.close()
      throw err
    }
    return acceptor
  }

  /**
   * Stops listening (accepted sockets belong to the caller). Does not wait for `close`: a
   * server emits it only once its accepted sockets are gone, and one of them is the punch.
   * Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true
    for (const s of this.#servers.splice(0)) s.close()
  }
}
