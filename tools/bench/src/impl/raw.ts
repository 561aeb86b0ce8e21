// Plain loopback TCP: the baseline every ratio is taken against.
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { fromDuplex, type Implementation } from '../stream.js'

export async function tcpListen(onSocket: (socket: Socket) => void) {
  const server = createServer({ noDelay: true }, onSocket)
  server.listen(0, '127.0.0.1', 4096)
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.close()
    },
  }
}

export async function tcpDial(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true })
  await once(socket, 'connect')
  return socket
}

export const raw: Implementation = {
  async listen(onStream) {
    const server = await tcpListen((socket) => onStream(fromDuplex(socket)))
    return { address: String(server.port), close: server.close }
  },
  async dialer(address) {
    return {
      dial: async () => fromDuplex(await tcpDial(Number(address))),
      close: async () => {},
    }
  },
}
