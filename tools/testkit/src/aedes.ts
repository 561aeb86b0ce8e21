import { createServer, type Server, type Socket } from 'node:net'
import { Aedes } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'

/** An in-process aedes broker on loopback. */
export interface AedesBroker {
  readonly host: '127.0.0.1'
  /** TCP port (MQTT). */
  readonly port: number
  /** `mqtt://127.0.0.1:<port>`. */
  readonly url: string
  /** WebSocket port, when started with `ws: true`. */
  readonly wsPort: number | undefined
  /** `ws://127.0.0.1:<wsPort>`, when started with `ws: true`. */
  readonly wsUrl: string | undefined
  readonly broker: Aedes
  /** Closes the broker, both listeners and every client connection. */
  close(): Promise<void>
}

/**
 * Starts aedes 1.x in this process with a TCP listener on 127.0.0.1 port 0 and, with
 * `ws: true`, a WebSocket listener on 127.0.0.1 port 0 (MQTT over `ws://`). aedes speaks MQTT
 * 3.1.1 only: a client asking for MQTT 5 is refused with "unacceptable protocol version".
 */
export async function startAedes(opts: { ws?: boolean } = {}): Promise<AedesBroker> {
  const broker = await Aedes.createBroker()
  const sockets = new Set<Socket>()
  const tcp: Server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket)
  })
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (tcp.address() as { port: number }).port

  let wss: WebSocketServer | undefined
  if (opts.ws) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    wss = server
    server.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.once('listening', () => resolve())
    })
  }
  const wsPort = wss ? (wss.address() as { port: number }).port : undefined

  let closing: Promise<void> | undefined
  return {
    host: '127.0.0.1',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    wsPort,
    wsUrl: wsPort === undefined ? undefined : `ws://127.0.0.1:${wsPort}`,
    broker,
    close() {
      closing ??= (async () => {
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()))
        for (const s of sockets) s.destroy()
        if (wss) {
          for (const client of wss.clients) client.terminate()
          await new Promise<void>((resolve) => wss?.close(() => resolve()))
        }
        await new Promise<void>((resolve) => broker.close(() => resolve()))
        await tcpClosed
      })()
      return closing
    },
  }
}
