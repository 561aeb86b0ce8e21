// hyperdht (Holepunch): a local testnet on 127.0.0.1 as the bootstrap (never the public DHT),
// a server announced on it, and `connect(publicKey)` giving a Noise secret stream over UDX.
import { loadPeers } from '../peers.js'
import { fromDuplex, type Implementation } from '../stream.js'

// biome-ignore lint/suspicious/noExplicitAny: third-party objects
type Any = any

export const hyperdht: Implementation = {
  async listen(onStream) {
    const { HyperDHT, createTestnet } = await loadPeers()
    const testnet = await createTestnet(3, { host: '127.0.0.1' })
    // Reachable, like the TCP listeners of the others (a direct dial, no hole punching; with the
    // default `firewalled: true` the stream never carries data between two processes here).
    const node = testnet.createNode({ firewalled: false })
    const server = node.createServer((socket: Any) => {
      onStream(fromDuplex(socket))
    })
    const keyPair = HyperDHT.keyPair()
    await server.listen(keyPair)
    const address = JSON.stringify({
      bootstrap: testnet.bootstrap,
      publicKey: Buffer.from(keyPair.publicKey).toString('hex'),
    })
    return {
      address,
      close: async () => {
        await server.close()
        await testnet.destroy()
      },
    }
  },
  async dialer(address) {
    const { HyperDHT } = await loadPeers()
    const { bootstrap, publicKey } = JSON.parse(address) as {
      bootstrap: { host: string; port: number }[]
      publicKey: string
    }
    // Bootstrap given explicitly: the client only ever talks to the loopback testnet.
    const node = new HyperDHT({ bootstrap, host: '127.0.0.1', ephemeral: true })
    await node.fullyBootstrapped()
    const key = Buffer.from(publicKey, 'hex')
    return {
      dial: async () => {
        const socket = node.connect(key)
        await new Promise<void>((resolve, reject) => {
          socket.once('open', () => resolve())
          socket.once('error', reject)
        })
        return fromDuplex(socket)
      },
      close: () => node.destroy(),
    }
  },
}
