import { MemorySignalingHub } from '@p2pd/interface'
import { NamePublisher, nameFor, nameResolver } from '@p2pd/names'
import { createNode, type P2pdNode } from '@p2pd/node'
import { type Mosquitto, startMosquitto } from '@p2pd/testkit/mosquitto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Daemon, startDaemon } from '../src/index.js'

// POST /connect {"name"} on a daemon whose node resolves names over a real mosquitto broker.
const TOKEN = 'names-token-0123456789abcdef'
let broker: Mosquitto
let alice: P2pdNode
let bob: P2pdNode
let daemon: Daemon
let publisher: NamePublisher

beforeAll(async () => {
  broker = await startMosquitto()
  const hub = new MemorySignalingHub()
  alice = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    networkCheckMs: 0,
    names: nameResolver({ brokers: [broker.url] }),
  })
  bob = createNode({ signaling: (id) => hub.connect(id.nodeId), networkCheckMs: 0 })
  await Promise.all([alice.start(), bob.start()])
  publisher = new NamePublisher({ identity: bob.identity, label: 'bob', brokers: [broker.url] })
  await publisher.follow(bob)
  daemon = await startDaemon({ node: alice, token: TOKEN, port: 0 })
}, 60_000)

afterAll(async () => {
  publisher?.close()
  await daemon?.close()
  await Promise.allSettled([alice?.stop(), bob?.stop()])
  await broker?.stop()
})

const connect = (body: unknown) =>
  fetch(`${daemon.url}/connect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

describe('connect by name', () => {
  it('resolves the name and answers with a pipe to the node that owns it', async () => {
    const accepted = bob.accept()
    const r = await connect({ name: publisher.name, timeoutMs: 15_000 })
    const body = (await r.json()) as { pipe: string; peer: string }
    expect(r.status, JSON.stringify(body)).toBe(200)
    expect(body.peer).toBe(bob.nodeId)
    const inbound = await accepted
    expect(inbound.remotePeer).toBe(alice.nodeId)
    await fetch(`${daemon.url}/pipes/${body.pipe}/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: 'by name',
    })
    const [chunk] = (await new Promise((res) => inbound.once('data', (d) => res([d])))) as [Buffer]
    expect(chunk.toString()).toBe('by name')
  }, 30_000)

  it('a name nobody published: 404 NAME_NOT_FOUND', async () => {
    const r = await connect({ name: nameFor('carol', alice.nodeId), timeoutMs: 10_000 })
    const body = (await r.json()) as { error: { code: string } }
    expect([r.status, body.error.code]).toEqual([404, 'NAME_NOT_FOUND'])
  }, 30_000)
})
