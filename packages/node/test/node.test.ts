import { once } from 'node:events'
import { encodePeerAddress } from '@p2pd/address'
import { generateIdentity } from '@p2pd/identity'
import { isP2pdError, MemorySignalingHub, type Pipe } from '@p2pd/interface'
import { echoRoundTrip, firstOf } from '@p2pd/testkit/pipes'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectError, createNode, direct, type P2pdNode, reverse } from '../src/index.js'

const started: P2pdNode[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function pair(opts: { hub?: MemorySignalingHub; allow?: (id: string) => boolean } = {}) {
  const hub = opts.hub ?? new MemorySignalingHub()
  const mk = (allow?: (id: string) => boolean) =>
    createNode({
      signaling: (id) => hub.connect(id.nodeId),
      listen: { host: '127.0.0.1' },
      allow,
    })
  const a = mk()
  const b = mk(opts.allow)
  started.push(a, b)
  await Promise.all([a.start(), b.start()])
  return { a, b, hub }
}

/** Echo `bytes` through the pair and check that what came back is what was sent. */
async function echoOnce(client: Pipe, server: Pipe, bytes: number) {
  const r = await echoRoundTrip(client, server, bytes)
  expect(r.received).toBe(r.sent)
}

describe('node: direct', () => {
  it('connects two nodes on loopback and moves bytes both ways, authenticated', async () => {
    const { a, b } = await pair()
    const [pipe, inbound] = await Promise.all([a.connect(b.addressText), firstOf(b.incoming)])
    expect(pipe.remotePeer).toBe(b.nodeId)
    expect(inbound.remotePeer).toBe(a.nodeId)
    expect(pipe.strategy).toBe('direct')
    expect(pipe.report.winner).toBe('direct')
    expect(pipe.report.stages.find((s) => s.outcome === 'won')?.strategy).toBe('direct')
    await echoOnce(pipe, inbound, 1 << 20)
    await pipe.close()
  })

  it('refuses an address whose key is not the listener’s (impostor)', async () => {
    const { a, b } = await pair()
    const impostor = encodePeerAddress({ ...b.address, nodeId: generateIdentity().nodeId })
    const err = await a.connect(impostor, { strategies: [direct()] }).catch((e) => e)
    expect(err).toBeInstanceOf(ConnectError)
    expect((err as ConnectError).report.stages[0]?.outcome).toBe('failed')
  })

  it('drops inbound pipes from peers the allow-list refuses', async () => {
    const { a, b } = await pair({ allow: () => false })
    let got = 0
    b.on('pipe', () => got++)
    // The dialler authenticates the listener, nominates, then sees the pipe closed.
    const pipe = await a.connect(b.addressText, { strategies: [direct()] })
    pipe.resume()
    await once(pipe, 'end')
    expect(got).toBe(0)
  })
})

describe('node: reverse', () => {
  it('asks the peer to dial back and gets an authenticated pipe', async () => {
    const { a, b } = await pair()
    const [pipe, inbound] = await Promise.all([
      a.connect(b.addressText, { strategies: [reverse()] }),
      firstOf(b.incoming),
    ])
    expect(pipe.strategy).toBe('reverse')
    expect(pipe.remotePeer).toBe(b.nodeId)
    expect(inbound.remotePeer).toBe(a.nodeId)
    await echoOnce(pipe, inbound, 64 * 1024)
  })
})

describe('node: pipeline', () => {
  it('hands the peer exactly one pipe when strategies race', async () => {
    const { a, b } = await pair()
    let pipes = 0
    b.on('pipe', () => pipes++)
    const pipe = await a.connect(b.addressText, {
      strategies: [reverse(), direct()],
    })
    await new Promise((r) => setTimeout(r, 300))
    expect(pipes).toBe(1)
    expect(pipe.report.winner).toBeDefined()
  })

  it('fails within its deadline with a report when nothing answers', async () => {
    const hub = new MemorySignalingHub()
    const { a, b } = await pair({ hub })
    const text = b.addressText
    await b.stop()
    const t0 = performance.now()
    const err = await a.connect(text, { timeoutMs: 1500 }).catch((e) => e)
    expect(performance.now() - t0).toBeLessThan(2500)
    expect(isP2pdError(err)).toBe(true)
  })

  it('releases its handles on stop()', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length
    const { a, b } = await pair()
    const pipe = await a.connect(b.addressText)
    await pipe.close()
    await a.stop()
    await b.stop()
    await new Promise((r) => setTimeout(r, 50))
    const after = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length
    expect(after).toBeLessThanOrEqual(before)
  })
})
