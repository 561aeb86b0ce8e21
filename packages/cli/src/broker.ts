import { createServer, type Server, type Socket } from 'node:net'
import { Aedes } from 'aedes'

/** An in-process MQTT broker (aedes): the demo's signaling, and `p2pd infra`'s. */
export interface EmbeddedBroker {
  readonly url: string
  /** The bound port. */
  readonly port: number
  close(): Promise<void>
}

/** Bounds on what strangers can make the broker hold. */
export interface BrokerLimits {
  /** Most connections in total (default 2,000). */
  readonly maxConnections?: number
  /** Most connections from one IP (default 64). */
  readonly maxPerIp?: number
  /** Largest MQTT packet, bytes (default 64 KiB; p2pd's envelopes are at most 16 KiB). */
  readonly maxPacketBytes?: number
}

/**
 * Starts aedes on `host:port` (port 0: any free one). Every connection is capped in number (in
 * total and per source IP) and in packet size: the packet's length prefix is read as bytes
 * arrive, and a connection announcing a larger packet is closed before aedes buffers it.
 * Rejects with the raw listen error (EADDRINUSE, EACCES…).
 */
export async function startBroker(
  host = '127.0.0.1',
  port = 0,
  limits: BrokerLimits = {},
): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker()
  const maxPerIp = limits.maxPerIp ?? 64
  const maxPacket = limits.maxPacketBytes ?? 64 * 1024
  const perIp = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    const ip = socket.remoteAddress ?? ''
    const n = perIp.get(ip) ?? 0
    if (n >= maxPerIp) {
      socket.destroy()
      return
    }
    perIp.set(ip, n + 1)
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      const left = (perIp.get(ip) ?? 1) - 1
      if (left <= 0) perIp.delete(ip)
      else perIp.set(ip, left)
    })
    const guard = packetSizeGuard(maxPacket)
    socket.on('data', (chunk: Buffer) => {
      if (!guard(chunk)) socket.destroy()
    })
    broker.handle(socket)
  })
  server.maxConnections = limits.maxConnections ?? 2_000
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port, host, exclusive: true }, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    throw err
  }
  const addr = server.address()
  const bound = typeof addr === 'object' && addr ? addr.port : port
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `mqtt://${urlHost}:${bound}`,
    port: bound,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await closed
    },
  }
}

/**
 * Follows MQTT packet boundaries (a type byte, a 1–4 byte length, the body) through a byte
 * stream; returns false as soon as a packet announces more than `max` bytes or the length is
 * malformed.
 */
export function packetSizeGuard(max: number): (chunk: Buffer) => boolean {
  let skip = 0 // body bytes of the current packet still to pass
  let inHeader = false // the type byte was read; reading the length
  let length = 0
  let shift = 0
  return (chunk) => {
    let i = 0
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i)
        skip -= n
        i += n
        continue
      }
      if (!inHeader) {
        inHeader = true
        length = 0
        shift = 0
        i++
        continue
      }
      const b = chunk[i++] as number
      length += (b & 0x7f) * 2 ** shift
      shift += 7
      if (b & 0x80) {
        if (shift >= 28) return false
        continue
      }
      if (length > max) return false
      inHeader = false
      skip = length
    }
    return true
  }
}
