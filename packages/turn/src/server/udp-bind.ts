import { createSocket, type Socket } from 'node:dgram'
import { TurnError } from '../errors.js'

/** A UDP socket bound to `host:port` (exclusive), with 4 MiB buffers where the kernel allows. */
export function bindUdp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' })
    const onError = (err: Error) => {
      s.close()
      reject(
        new TurnError('TURN_SOCKET', `cannot bind ${host}:${port}: ${err.message}`, { cause: err }),
      )
    }
    s.once('error', onError)
    s.bind({ port, address: host, exclusive: true }, () => {
      s.off('error', onError)
      try {
        s.setRecvBufferSize(4 * 1024 * 1024)
        s.setSendBufferSize(4 * 1024 * 1024)
      } catch {
        // capped by the kernel: fine
      }
      resolve(s)
    })
  })
}

/** A relay socket on `host`: any free port, or one of `range`. */
export async function bindRelayUdp(
  host: string,
  range: readonly [number, number] | undefined,
): Promise<Socket> {
  if (!range) return bindUdp(host, 0)
  const [min, max] = range
  const span = max - min + 1
  const start = Math.floor(Math.random() * span)
  for (let i = 0; i < span; i++) {
    try {
      return await bindUdp(host, min + ((start + i) % span))
    } catch {
      // taken: try the next port of the range
    }
  }
  throw new TurnError('TURN_CAPACITY', 'relay port range exhausted')
}
