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
  it('both ends get upgraded (old pipe, new pipe); accept() never returns the successor', async () => {
    const server = new TurnServer({
      host: '127.0.0.1',
      users: { u: 'p' },
      allowLoopbackPeers: true,
    })
    const at = await server.start()
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    process.on('uncaughtException', onUnhandled)
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
      const peerUpgraded = new Promise<Upgrade>((resolve) => b.once('upgraded', resolve))
      const [pipe, accepted] = await Promise.all([a.connect(b.addressText), b.accept()])
      expect(pipe.strategy).toBe('turn')
      expect(pipe.path.relayed).toBe(true)
      expect(accepted.strategy).toBe('turn')
      const [up, peerUp] = await Promise.all([upgraded, peerUpgraded])
      expect(up.role).toBe('initiator')
      expect(up.previous).toBe(pipe)
      expect(up.pipe.strategy).toBe('direct')
      expect(up.pipe.path.relayed).toBe(false)
      expect(peerUp.role).toBe('responder')
      expect(peerUp.previous).toBe(accepted)
      expect(peerUp.pipe.strategy).toBe('direct')
      // The successor is the peer's end of the same pipe: bytes cross.
      up.pipe.write('over the upgraded pipe')
      const [got] = (await new Promise((r) => peerUp.pipe.once('data', (d) => r([d])))) as [Buffer]
      expect(got.toString()).toBe('over the upgraded pipe')
      // accept() does not hand the successor out as if it were a new peer's pipe.
      const next = await b.accept({ signal: AbortSignal.timeout(200) }).catch((e) => e)
      expect((next as { code?: string }).code).toBe('TIMEOUT')
      expect(inbound.map((p) => p.strategy)).toEqual(['turn'])
      // Stop both nodes with every pipe still open: nothing may surface unhandled.
      await Promise.all(nodes.splice(0).map((n) => n.stop()))
      await new Promise((r) => setTimeout(r, 200))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      process.off('uncaughtException', onUnhandled)
      await server.close()
    }
  })
})
