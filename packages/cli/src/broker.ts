import { createServer, type Server } from 'node:net'
import { Aedes } from 'aedes'

/** An in-process MQTT broker (aedes) on loopback: the embedded signaling default. */
export interface EmbeddedBroker {
  readonly url: string
  close(): Promise<void>
}

export async function startBroker(host = '127.0.0.1', port = 0): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker()
  const server: Server = createServer(broker.handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const addr = server.address()
  const bound = typeof addr === 'object' && addr ? addr.port : port
  return {
    url: `mqtt://${host}:${bound}`,
    close: async () => {
      server.close()
      await new Promise<void>((resolve) => broker.close(() => resolve()))
    },
  }
}
