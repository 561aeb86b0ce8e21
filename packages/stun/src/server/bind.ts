import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server as TcpServer } from 'node:net'
import { StunError } from '../errors.js'
import { ipFamily } from '../ip.js'

/** Binds a UDP socket; rejects with the raw error (callers retry on EADDRINUSE). */
export function bindUdp(host: string, port: number): Promise<UdpSocket> {
  const socket = createSocket({ type: ipFamily(host) === 6 ? 'udp6' : 'udp4' })
  return new Promise((resolve, reject) => {
    socket.once('error', (err) => {
      socket.close()
      reject(err)
    })
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.removeAllListeners('error')
      resolve(socket)
    })
  })
}

/** Starts a TCP listener; rejects with the raw error. */
export function listenTcp(
  host: string,
  port: number,
  server: TcpServer = createServer(),
): Promise<TcpServer> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.close()
      reject(err)
    }
    server.once('error', onError)
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError)
      resolve(server)
    })
  })
}

export function closeUdp(s: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve())
    } catch {
      resolve() // already closed
    }
  })
}

export function closeTcp(s: TcpServer): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()))
}

/** True for the errors that mean "pick other ports and try again". */
export function isAddressInUse(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'EADDRINUSE'
}

export function socketError(what: string, err: unknown): StunError {
  return new StunError('STUN_SOCKET', `${what}: ${(err as Error).message}`, { cause: err })
}
