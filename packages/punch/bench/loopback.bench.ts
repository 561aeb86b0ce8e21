import { MemorySignalingHub } from '@p2pd/interface'
import { afterAll, beforeAll, bench, describe } from 'vitest'
import { createNode, type P2pdNode } from '../../node/src/index.js'
import { punch } from '../src/index.js'

// Time-to-connect of a punch between two nodes on one machine (node.connect → authenticated
// pipe), memory signaling. The lab figures (50 ms one-way) are in the README.
let a: P2pdNode
let b: P2pdNode
beforeAll(async () => {
  const hub = new MemorySignalingHub()
  const strategies = [punch()]
  a = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    strategies,
    listen: { host: '127.0.0.1' },
  })
  b = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    strategies,
    listen: { host: '127.0.0.1' },
  })
  await Promise.all([a.start(), b.start()])
  b.on('pipe', (p) => p.resume())
})
afterAll(async () => {
  await Promise.all([a.stop(), b.stop()])
})

describe('punch on loopback', () => {
  bench(
    'node.connect via punch (same machine)',
    async () => {
      const pipe = await a.connect(b.addressText)
      await pipe.close()
    },
    { iterations: 30, warmupIterations: 3 },
  )
})
