import { generateIdentity, secureChannel } from '@p2pd/identity'
import { MemorySignalingHub } from '@p2pd/interface'
import { gcEvery } from '@p2pd/testkit/gc'
import { firstOf } from '@p2pd/testkit/pipes'
import {
  connected,
  DIRECT_PREAMBLE,
  HELLO_PREFIX,
  heldMs,
  loopbackSource,
  openStranger,
  type Stranger,
  type StrangerPlan,
} from '@p2pd/testkit/strangers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createNode, direct, type InboundLimits, type P2pdNode } from '../src/index.js'

// Every stranger here is held to "closed by its deadline, at most 10 % late", while gc() runs
// every 100 ms: a deadline lost to a collection would show as a socket that never closes.
// (A full collection in a test worker takes ~50 ms, so deadlines are long enough for that.)
const STAGE_MS = 3_000
const LATE = 1.1
/** "Closed at once": well under any deadline here, with room for a busy machine. */
const AT_ONCE_MS = 1_000

const hub = new MemorySignalingHub()
const started: P2pdNode[] = []
const strangers: Stranger[] = []
let stopGc = () => {}
beforeEach(() => {
  stopGc = gcEvery(100)
})
afterEach(async () => {
  stopGc()
  for (const s of strangers.splice(0)) s.socket.destroy()
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function victim(inbound: InboundLimits = {}, handshakeTimeoutMs = STAGE_MS) {
  const node = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    listen: { host: '127.0.0.1' },
    strategies: [direct()],
    networkCheckMs: 0,
    handshakeTimeoutMs,
    inbound: {
      preambleTimeoutMs: STAGE_MS,
      nominationTimeoutMs: STAGE_MS,
      totalTimeoutMs: 10 * STAGE_MS,
      ...inbound,
    },
  })
  started.push(node)
  await node.start()
  return { node, port: node.address.ip4[0]?.port as number }
}

function stranger(port: number, plan: StrangerPlan = {}): Stranger {
  const s = openStranger('127.0.0.1', port, plan)
  strangers.push(s)
  return s
}

/** A stranger with a key: completes the secure handshake, then never nominates. */
const strangerIdentity = generateIdentity() // made once: key generation is CPU the victim shares
const authenticated: StrangerPlan = {
  send: DIRECT_PREAMBLE,
  afterConnect: (socket) =>
    secureChannel(socket, {
      identity: strangerIdentity,
      expectedPeer: () => true,
      initiator: true,
      timeoutMs: 5_000,
    }).then((pipe) => pipe.on('error', () => {})),
}

const until = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor(condition: () => boolean, timeoutMs = 2_000) {
  const end = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > end) throw new Error('condition not met in time')
    await until(5)
  }
}

describe('node: strangers on the listener', () => {
  it('closes every kind of stall by its stage deadline (≤ +10 %), with gc() every 100 ms', async () => {
    const { node, port } = await victim()
    const drip = Buffer.concat([DIRECT_PREAMBLE, HELLO_PREFIX])
    const kinds = {
      silent: { stage: 'preamble', plan: {} },
      partialPreamble: { stage: 'preamble', plan: { send: DIRECT_PREAMBLE.subarray(0, 10) } },
      slowPreamble: { stage: 'preamble', plan: { drip, dripEveryMs: 250 } },
      preambleOnly: { stage: 'handshake', plan: { send: DIRECT_PREAMBLE } },
      partialHello: { stage: 'handshake', plan: { send: drip } },
      slowHello: {
        stage: 'handshake',
        plan: { send: DIRECT_PREAMBLE, drip: HELLO_PREFIX, dripEveryMs: 250 },
      },
      noNomination: { stage: 'nomination', plan: authenticated },
    } as const
    let source = 0
    const next = () => loopbackSource(source++) // one source each: no per-source refusals
    const opened = Object.entries(kinds).flatMap(([kind, { stage, plan }]) =>
      Array.from({ length: 3 }, () => ({
        kind,
        stage,
        s: stranger(port, { ...plan, from: next() }),
      })),
    )
    // Collections start once all are in: gc() stalls the loop ~50 ms (more on a busy machine),
    // which would delay the accepts themselves, and the deadline only runs from the accept.
    stopGc()
    await waitFor(() => node.stats.inbound.pending === 21 && opened.every(({ s }) => s.ready))
    stopGc = gcEvery(100)
    const held = await Promise.all(
      opened.map(async ({ kind, stage, s }) => ({
        kind,
        ms: await heldMs(s, stage === 'nomination' ? 'ready' : 'connect'),
      })),
    )
    for (const { kind, ms } of held) {
      // (From the stranger's side: `noNomination` is timed from its handshake, which ends a
      // moment after the victim's nomination deadline started.)
      expect(ms, kind).toBeGreaterThanOrEqual(STAGE_MS - 100)
      expect(ms, kind).toBeLessThanOrEqual(STAGE_MS * LATE)
    }
    const stats = node.stats.inbound
    expect(stats.timedOut).toEqual({ preamble: 9, handshake: 9, nomination: 3 })
    expect(stats).toMatchObject({ accepted: 21, completed: 0, failed: 0, pending: 0 })
  })

  it('bounds the whole inbound path by its total deadline', async () => {
    const { node, port } = await victim({ nominationTimeoutMs: 10_000, totalTimeoutMs: STAGE_MS })
    const s = stranger(port, authenticated)
    const ms = await heldMs(s)
    expect(ms).toBeGreaterThanOrEqual(STAGE_MS - 50)
    expect(ms).toBeLessThanOrEqual(STAGE_MS * LATE)
    expect(node.stats.inbound.timedOut.nomination).toBe(1)
  })

  it('closes garbage at once and counts it as failed', async () => {
    const { node, port } = await victim()
    const junk = Array.from({ length: 5 }, () => stranger(port, { send: Buffer.alloc(40, 0x47) }))
    for (const s of junk) expect(await heldMs(s)).toBeLessThan(AT_ONCE_MS)
    expect(node.stats.inbound).toMatchObject({ accepted: 5, failed: 5, pending: 0 })
  })

  it('refuses a source past maxPendingPerSource at once; others still get in', async () => {
    const { node, port } = await victim({ maxPendingPerSource: 3 })
    const from = loopbackSource(1)
    const first = Array.from({ length: 3 }, () => stranger(port, { from }))
    await Promise.all(first.map(connected))
    await waitFor(() => node.stats.inbound.pending === 3)
    const extra = Array.from({ length: 2 }, () => stranger(port, { from }))
    for (const s of extra) expect(await heldMs(s)).toBeLessThan(AT_ONCE_MS)
    const other = stranger(port, { from: loopbackSource(2) })
    await connected(other)
    await waitFor(() => node.stats.inbound.pending === 4)
    expect(other.socket.destroyed).toBe(false)
    for (const s of first) expect(s.socket.destroyed).toBe(false)
    expect(node.stats.inbound).toMatchObject({ accepted: 4, pending: 4 })
    expect(node.stats.inbound.refused).toEqual({ perSource: 2, total: 0, fdBudget: 0 })
  })

  it('at the total cap, refuses the busiest source and evicts for a new one', async () => {
    const { node, port } = await victim({ maxPending: 6 })
    const a = Array.from({ length: 3 }, () => stranger(port, { from: loopbackSource(1) }))
    const b = Array.from({ length: 3 }, () => stranger(port, { from: loopbackSource(2) }))
    await Promise.all([...a, ...b].map(connected))
    await waitFor(() => node.stats.inbound.pending === 6)
    // A source already holding as many as the busiest: refused.
    const more = stranger(port, { from: loopbackSource(1) })
    expect(await heldMs(more)).toBeLessThan(AT_ONCE_MS)
    expect(node.stats.inbound.refused.total).toBe(1)
    // A new source: the oldest connection of a busiest source makes room.
    const fresh = stranger(port, { from: loopbackSource(3) })
    await connected(fresh)
    const evicted = await Promise.race([
      ...[...a, ...b].map((s, i) => s.closed.then(() => i)),
      until(AT_ONCE_MS).then(() => -1),
    ])
    expect([0, 3]).toContain(evicted)
    expect(fresh.socket.destroyed).toBe(false)
    expect(node.stats.inbound).toMatchObject({ accepted: 7, evicted: 1, pending: 6 })
  })

  it('keeps the fd reserve: pending connections never exceed the fd budget', async () => {
    const { node, port } = await victim({ fdLimit: 100, fdReserve: 96 }) // budget: 4
    const held = Array.from({ length: 4 }, () => stranger(port, { from: loopbackSource(1) }))
    await Promise.all(held.map(connected))
    await waitFor(() => node.stats.inbound.pending === 4)
    const over = stranger(port, { from: loopbackSource(1) })
    expect(await heldMs(over)).toBeLessThan(AT_ONCE_MS)
    expect(node.stats.inbound.refused.fdBudget).toBe(1)
    expect(node.stats.inbound.pending).toBe(4)
  })

  it('a legitimate peer connects while the caps are full of stalled strangers', async () => {
    const { node, port } = await victim({ maxPending: 8, maxPendingPerSource: 4 })
    const stalls = Array.from({ length: 12 }, (_, i) =>
      stranger(port, { from: loopbackSource(i % 3), send: DIRECT_PREAMBLE }),
    )
    await Promise.all(stalls.map(connected))
    await waitFor(({ accepted, refused } = node.stats.inbound) => accepted + refused.total === 12)
    expect(node.stats.inbound.pending).toBe(8)
    const peer = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      listen: { host: '127.0.0.1' },
      strategies: [direct()],
      networkCheckMs: 0,
    })
    started.push(peer)
    await peer.start()
    const t0 = performance.now()
    const [pipe, inbound] = await Promise.all([
      peer.connect(node.addressText, { timeoutMs: 3_000 }),
      firstOf(node.incoming),
    ])
    for (const p of [pipe, inbound]) p.on('error', () => {})
    expect(performance.now() - t0).toBeLessThan(STAGE_MS) // while the stalls are held
    expect(inbound.remotePeer).toBe(peer.nodeId)
    expect(pipe.remotePeer).toBe(node.nodeId)
    // And the node's own dials still work.
    const back = await node.connect(peer.addressText, { timeoutMs: 3_000 })
    back.on('error', () => {})
    expect(back.remotePeer).toBe(peer.nodeId)
    const stats = node.stats.inbound
    expect(stats.completed).toBe(1)
    expect(stats.evicted + stats.refused.total).toBeGreaterThanOrEqual(4)
  })
})
