import { once } from 'node:events'
import { MemorySignalingHub, type Pipe } from '@p2pd/interface'
import { echoRoundTrip } from '@p2pd/testkit/pipes'
import { isRelayLost, TurnServer, turn } from '@p2pd/turn'
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, type P2pdNode } from '../src/index.js'
import type { Reconnected, RelayLost } from '../src/relay-recovery.js'

const users = { a: 'pa' }
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {})
})

async function relay(port = 0): Promise<TurnServer> {
  const s = new TurnServer({ users, allowLoopbackPeers: true, port })
  await s.start()
  cleanup.push(() => s.close())
  return s
}

/** Two nodes whose only strategy is TURN through `server`'s port. */
async function relayedNodes(port: number): Promise<[P2pdNode, P2pdNode]> {
  const hub = new MemorySignalingHub()
  const servers = [{ host: '127.0.0.1', port, username: 'a', password: 'pa' }]
  const mk = () =>
    createNode({
      signaling: (id) => hub.connect(id.nodeId),
      listen: { host: '127.0.0.1' },
      strategies: [turn({ servers, client: { rtoMs: 100 } })],
    })
  const nodes: [P2pdNode, P2pdNode] = [mk(), mk()]
  for (const n of nodes) {
    n.on('pipe', (p) => quiet(p))
    n.on('reconnected', (e) => quiet(e.pipe))
  }
  cleanup.push(() => Promise.all(nodes.map((n) => n.stop())))
  await Promise.all(nodes.map((n) => n.start()))
  return nodes
}

/** Errors of a pipe are expected here: keep them from crashing the worker, keep the last. */
function quiet(pipe: Pipe): { error?: Error } {
  const seen: { error?: Error } = {}
  pipe.on('error', (e) => {
    seen.error = e
  })
  return seen
}

describe('node: a relayed pipe whose relay is lost', () => {
  it('emits relay-lost on both nodes; with reconnect, connects again and emits the new pipe', async () => {
    const server = await relay()
    const port = server.address.port
    const [a, b] = await relayedNodes(port)
    const inbound = once(b, 'pipe') as Promise<[Pipe]>
    const pipe = await a.connect(b.addressText, { reconnect: true })
    const [bPipe] = await inbound
    const errA = quiet(pipe)
    quiet(bPipe)
    const lostA = once(a, 'relay-lost') as Promise<[RelayLost]>
    const lostB = once(b, 'relay-lost') as Promise<[RelayLost]>
    const reconnected = once(a, 'reconnected') as Promise<[Reconnected]>
    const secondInbound = new Promise<Pipe>((resolve) =>
      b.on('pipe', (p) => {
        if (p !== bPipe) resolve(p)
      }),
    )

    const t0 = performance.now()
    await server.close()
    await relay(port) // the relay comes back at once, on the same port
    const [[atA], [atB]] = await Promise.all([lostA, lostB])
    const lostMs = performance.now() - t0
    expect(lostMs).toBeLessThan(5000)
    expect(atA.peer).toBe(b.nodeId)
    expect(atA.pipe).toBe(pipe)
    expect(atA.reconnecting).toBe(true)
    expect(isRelayLost(atA.error)).toBe(true)
    expect(errA.error).toBe(atA.error) // the pipe's own error, not hidden
    expect(atB.peer).toBe(a.nodeId)
    expect(atB.reconnecting).toBe(false) // only the connecting node reconnects

    const [{ previous, pipe: again }] = await reconnected
    const recoveredMs = performance.now() - t0
    expect(previous).toBe(pipe)
    expect(again.remotePeer).toBe(b.nodeId)
    expect(again.path.relayed).toBe(true)
    const r = await echoRoundTrip(again, await secondInbound, 64 * 1024)
    expect(r.received).toBe(r.sent)
    expect(recoveredMs).toBeLessThan(10_000)
  })

  it('without reconnect: relay-lost only, and a clean close is no relay loss', async () => {
    const server = await relay()
    const [a, b] = await relayedNodes(server.address.port)
    const inbound = once(b, 'pipe') as Promise<[Pipe]>
    const first = await a.connect(b.addressText)
    await inbound
    const events: string[] = []
    a.on('relay-lost', (e) => events.push(`lost:${e.reconnecting}`))
    a.on('reconnected', () => events.push('reconnected'))
    await first.close() // clean: no event
    const secondInbound = once(b, 'pipe')
    const second = await a.connect(b.addressText)
    quiet(second)
    await secondInbound
    const lost = once(a, 'relay-lost')
    await server.close()
    await lost
    await new Promise((r) => setTimeout(r, 300))
    expect(events).toEqual(['lost:false'])
  })
})
