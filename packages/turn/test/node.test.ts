// The strategy inside a real node. `@p2pd/node` depends on this package, so it cannot be a
// devDependency here (a cycle): the test imports the node from source by path instead.
import { MemorySignalingHub } from '@p2pd/interface'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode } from '../../node/src/index.js'
import { TurnServer, turn } from '../src/index.js'

describe('turn() in a node', () => {
  let coturn: Coturn
  beforeAll(async () => {
    coturn = await startCoturn()
  })
  afterAll(async () => {
    await coturn?.stop()
  })

  it('a.connect(b) gives a relayed Pipe with strategy "turn"', async () => {
    const hub = new MemorySignalingHub()
    const servers = [
      { host: coturn.host, port: coturn.port, username: coturn.user, password: coturn.password },
    ]
    const a = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      strategies: [turn({ servers })],
    })
    const b = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      strategies: [turn({ servers })],
    })
    try {
      await a.start()
      await b.start()
      const pipe = await a.connect(b.addressText)
      expect(pipe.strategy).toBe('turn')
      expect(pipe.path.relayed).toBe(true)
      expect(pipe.remotePeer).toBe(b.nodeId)
      const incoming = b.incoming[Symbol.asyncIterator]()
      const { value: inbound } = await incoming.next()
      expect(inbound.remotePeer).toBe(a.nodeId)
      const got = new Promise<string>((resolve) =>
        inbound.once('data', (d: Buffer) => resolve(`${d}`)),
      )
      pipe.write('hello over the relay')
      expect(await got).toBe('hello over the relay')
      await pipe.close()
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('through our TurnServer: the node pipe runs on TCP relays (one hop, spliced, no UDP relaying)', async () => {
    const server = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true })
    const at = await server.start()
    const hub = new MemorySignalingHub()
    const strategies = [turn({ servers: [{ ...at, username: 'u', password: 'p' }] })]
    const a = createNode({ signaling: (id) => hub.connect(id.nodeId), strategies })
    const b = createNode({ signaling: (id) => hub.connect(id.nodeId), strategies })
    try {
      await a.start()
      await b.start()
      const pipe = await a.connect(b.addressText, { upgrade: false })
      expect(pipe.strategy).toBe('turn')
      expect(pipe.path.relayed).toBe(true)
      const { value: inbound } = await b.incoming[Symbol.asyncIterator]().next()
      const size = 2 * 1024 * 1024
      let n = 0
      const got = new Promise<void>((resolve) =>
        inbound.on('data', (d: Buffer) => {
          n += d.length
          if (n >= size) resolve()
        }),
      )
      pipe.write(Buffer.alloc(size, 1))
      await got
      // One hop: the offerer's host connects to the answerer's relayed address, one spliced pair.
      expect(server.stats.tcpSpliced).toBe(1)
      expect(server.stats.relayedToPeers).toBe(0)
      await pipe.close()
    } finally {
      await Promise.all([a.stop(), b.stop()])
      await server.close()
    }
  })
})
