// js-libp2p as its docs set it up: TCP + Noise + yamux, one stream per connection.
import { loadPeers } from '../peers.js'
import type { ByteStream, Implementation } from '../stream.js'

const PROTOCOL = '/p2pd-bench/1.0.0'

// biome-ignore lint/suspicious/noExplicitAny: third-party objects
type Any = any

async function node(listen: boolean): Promise<Any> {
  const { createLibp2p, tcp, noise, yamux } = await loadPeers()
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The defaults throttle a host dialling this often (5 inbound per second, 300 in all).
    connectionManager: {
      maxConnections: 100_000,
      inboundConnectionThreshold: 100_000,
      maxIncomingPendingConnections: 10_000,
      maxParallelDials: 1_000,
      allow: ['/ip4/127.0.0.1'],
    },
  })
}

function fromStream(stream: Any, close: () => void): ByteStream {
  return {
    write: (data) => stream.send(data),
    drain: () => stream.onDrain(),
    onData: (listener) => {
      stream.addEventListener('message', (e: Any) => {
        const data = e.data
        listener(data instanceof Uint8Array ? data : data.subarray())
      })
    },
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    close,
  }
}

export const libp2p: Implementation = {
  async listen(onStream) {
    const server = await node(true)
    await server.handle(
      PROTOCOL,
      (stream: Any) => {
        onStream(fromStream(stream, () => stream.abort(new Error('closed'))))
      },
      { maxInboundStreams: 100_000 },
    )
    return {
      address: server.getMultiaddrs()[0].toString(),
      close: () => server.stop(),
    }
  },
  async dialer(address) {
    const client = await node(false)
    const target = (await loadPeers()).multiaddr(address)
    return {
      dial: async () => {
        const connection = await client.dial(target, { force: true })
        const stream = await connection.newStream(PROTOCOL, { maxOutboundStreams: 100_000 })
        return fromStream(stream, () => {
          connection.abort?.(new Error('closed')) ?? connection.close()
        })
      },
      close: () => client.stop(),
    }
  },
}
