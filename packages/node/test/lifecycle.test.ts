import { DeltaType, MemorySignalingHub, NatType, type Pipe } from '@p2pd/interface'
import { TurnServer, turn } from '@p2pd/turn'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createNode,
  direct,
  type InterfaceInit,
  type P2pdNode,
  type Upgrade,
  watchNetwork,
} from '../src/index.js'

const open = { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } }
const nodes: P2pdNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

describe('address refresh', () => {
  it('rebuilds the address and emits it when the interfaces change', async () => {
    let ifaces: InterfaceInit[] = [{ ext: '127.0.0.1', nat: open }]
    const hub = new MemorySignalingHub()
    const node = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      listen: { host: '127.0.0.1' },
      interfaces: async () => ifaces,
      networkCheckMs: 0,
    })
    nodes.push(node)
    const first = await node.start()
    const emitted: string[] = []
    node.on('address', (a) => emitted.push(a))
    await node.refreshAddress()
    expect(emitted).toEqual([]) // nothing moved: no event
    ifaces = [{ ext: '127.0.0.9', nat: open }]
    const second = await node.refreshAddress()
    expect(second).not.toBe(first)
    expect(node.address.ip4[0]?.ext).toBe('127.0.0.9')
    expect(emitted).toEqual([second])
  })

  it('watchNetwork calls back only when the fingerprint changes, and stops on abort', async () => {
    let fp = 'a'
    let calls = 0
    const ctrl = new AbortController()
    watchNetwork(() => calls++, { intervalMs: 10, signal: ctrl.signal, fingerprint: () => fp })
    await new Promise((r) => setTimeout(r, 40))
    expect(calls).toBe(0)
    fp = 'b'
    await new Promise((r) => setTimeout(r, 40))
    expect(calls).toBe(1)
    ctrl.abort()
    fp = 'c'
    await new Promise((r) => setTimeout(r, 40))
    expect(calls).toBe(1)
  })
})

describe('upgrade after a relayed win', () => {
  it('emits upgraded with a direct pipe, and the peer receives it', async () => {
    const server = new TurnServer({
      host: '127.0.0.1',
      users: { u: 'p' },
      allowLoopbackPeers: true,
    })
    const at = await server.start()
    try {
      const hub = new MemorySignalingHub()
      const strategies = [
        turn({ servers: [{ host: at.host, port: at.port, username: 'u', password: 'p' }] }),
        direct(),
      ]
      const mk = () =>
        createNode({
          signaling: (id) => hub.connect(id.nodeId),
          listen: { host: '127.0.0.1' },
          strategies,
          networkCheckMs: 0,
        })
      const a = mk()
      const b = mk()
      nodes.push(a, b)
      await Promise.all([a.start(), b.start()])
      const inbound: Pipe[] = []
      b.on('pipe', (p) => inbound.push(p))
      const upgraded = new Promise<Upgrade>((resolve) => a.once('upgraded', resolve))
      const pipe = await a.connect(b.addressText)
      expect(pipe.strategy).toBe('turn')
      expect(pipe.path.relayed).toBe(true)
      const up = await upgraded
      expect(up.previous).toBe(pipe)
      expect(up.pipe.strategy).toBe('direct')
      expect(up.pipe.path.relayed).toBe(false)
      await new Promise((r) => setTimeout(r, 100))
      expect(inbound.map((p) => p.strategy)).toEqual(['turn', 'direct'])
      await pipe.close()
      await up.pipe.close()
    } finally {
      await server.close()
    }
  })
})
