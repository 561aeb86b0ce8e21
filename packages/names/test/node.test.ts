import { DeltaType, MemorySignalingHub, NatType } from '@p2pd/interface'
import { createNode, type P2pdNode } from '@p2pd/node'
import { type Mosquitto, startMosquitto } from '@p2pd/testkit/mosquitto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { NamePublisher, nameFor, nameResolver, type PublishResult } from '../src/index.js'

// node.connect('<label>.<fingerprint>') between two loopback nodes, names over mosquitto.
let broker: Mosquitto
const nodes: P2pdNode[] = []

beforeAll(async () => {
  broker = await startMosquitto()
})
afterAll(async () => {
  await broker.stop()
})
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

function pair(withResolver = true) {
  const hub = new MemorySignalingHub()
  const make = (names: boolean) =>
    createNode({
      signaling: (id) => hub.connect(id.nodeId),
      networkCheckMs: 0,
      ...(names ? { names: nameResolver({ brokers: [broker.url] }) } : {}),
    })
  const alice = make(withResolver)
  const bob = make(false)
  nodes.push(alice, bob)
  return { alice, bob }
}

describe('node.connect by name', () => {
  it('resolves the name and connects to the node that owns it', async () => {
    const { alice, bob } = pair()
    await Promise.all([alice.start(), bob.start()])
    const publisher = new NamePublisher({
      identity: bob.identity,
      label: 'bob',
      brokers: [broker.url],
    })
    try {
      await publisher.follow(bob)
      const accepted = bob.accept()
      const pipe = await alice.connect(publisher.name, { timeoutMs: 15_000 })
      expect(pipe.remotePeer).toBe(bob.nodeId)
      const inbound = await accepted
      expect(inbound.remotePeer).toBe(alice.nodeId)
      pipe.write('hello by name')
      const [chunk] = (await new Promise((r) => inbound.once('data', (d) => r([d])))) as [Buffer]
      expect(chunk.toString()).toBe('hello by name')
    } finally {
      publisher.close()
    }
  })

  it("follows the node's address: a refreshed address is re-published and resolved", async () => {
    const hub = new MemorySignalingHub()
    const open = { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } }
    let ext = '127.0.0.1'
    const bob = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      networkCheckMs: 0,
      listen: { host: '127.0.0.1' },
      interfaces: async () => [{ ext, nat: open }],
    })
    nodes.push(bob)
    await bob.start()
    const publisher = new NamePublisher({
      identity: bob.identity,
      label: 'bob',
      brokers: [broker.url],
    })
    try {
      const first = await publisher.follow(bob)
      const resolver = nameResolver({ brokers: [broker.url] })
      expect(await resolver.resolve(publisher.name)).toBe(bob.addressText)
      const republished = new Promise<PublishResult>((r) => publisher.once('published', r))
      ext = '127.0.0.9'
      const moved = await bob.refreshAddress()
      const second = await republished
      expect(second.seq).toBeGreaterThan(first.seq)
      expect(await resolver.resolve(publisher.name)).toBe(moved)
      expect(moved).toContain('127.0.0.9')
    } finally {
      publisher.close()
    }
  })

  it('an unknown name gives a typed error; a node without a resolver refuses names', async () => {
    const { alice, bob } = pair()
    await Promise.all([alice.start(), bob.start()])
    const unknown = nameFor('nobody', bob.nodeId)
    await expect(alice.connect(unknown, { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'NAME_NOT_FOUND',
    })
    const plain = pair(false).bob
    await plain.start()
    await expect(plain.connect(unknown)).rejects.toMatchObject({ code: 'NODE_NO_NAME_RESOLVER' })
    // A malformed peer address is still an address error, not a name lookup.
    await expect(alice.connect('0-[1,2]-0-zz-m')).rejects.toMatchObject({
      code: expect.stringMatching(/^ADDRESS_/),
    })
  })

  it('the name lookup counts against the connect deadline', async () => {
    // A resolver that never answers (it only honours its signal).
    const hang = (_name: string, signal: AbortSignal) =>
      new Promise<string>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      )
    const slow = createNode({
      signaling: (id) => new MemorySignalingHub().connect(id.nodeId),
      networkCheckMs: 0,
      names: { resolve: hang },
    })
    nodes.push(slow)
    await slow.start()
    const t0 = performance.now()
    await expect(
      slow.connect(nameFor('late', slow.nodeId), { timeoutMs: 500 }),
    ).rejects.toMatchObject({ code: 'TIMEOUT' })
    expect(performance.now() - t0).toBeLessThan(3_000)
  })
})
