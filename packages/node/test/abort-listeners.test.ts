import { getEventListeners } from 'node:events'
import { MemorySignalingHub } from '@p2pd/interface'
import { firstOf } from '@p2pd/testkit/pipes'
import {
  connected,
  DIRECT_PREAMBLE,
  heldMs,
  openStranger,
  type Stranger,
} from '@p2pd/testkit/strangers'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createNode, direct, type P2pdNode } from '../src/index.js'

// A node's long-lived signals (its lifetime, its listener's) are parents of every inbound
// attempt and connect. Each such operation may listen on them while it runs, but must stop
// listening when it settles; and the listeners pending inbound attempts hold are bounded by
// the admission caps, so a full cap is no "possible memory leak".

const hub = new MemorySignalingHub()
const started: P2pdNode[] = []
const strangers: Stranger[] = []
/** Every AbortSignal something added an abort listener to, while the test ran. */
const signals = new Set<AbortSignal>()
const warnings: Error[] = []
const onWarning = (w: Error) => {
  if (w.name === 'MaxListenersExceededWarning') warnings.push(w)
}
const addEventListener = EventTarget.prototype.addEventListener

beforeEach(() => {
  signals.clear()
  warnings.length = 0
  process.on('warning', onWarning)
  EventTarget.prototype.addEventListener = function (
    this: EventTarget,
    ...args: Parameters<EventTarget['addEventListener']>
  ) {
    if (args[0] === 'abort' && this instanceof AbortSignal) signals.add(this)
    return addEventListener.apply(this, args)
  }
})
afterEach(async () => {
  EventTarget.prototype.addEventListener = addEventListener
  process.off('warning', onWarning)
  for (const s of strangers.splice(0)) s.socket.destroy()
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

/** Abort listeners on every live signal seen so far, the most on one signal and in all. */
function listeners(): { most: number; all: number } {
  const counts = [...signals].filter((s) => !s.aborted).map((s) => getEventListeners(s, 'abort'))
  return { most: Math.max(0, ...counts.map((l) => l.length)), all: counts.flat().length }
}

async function node(inbound = {}) {
  const n = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    listen: { host: '127.0.0.1' },
    strategies: [direct()],
    networkCheckMs: 0,
    handshakeTimeoutMs: 30_000,
    inbound,
  })
  started.push(n)
  await n.start()
  return n
}

const until = (ms: number) => new Promise((r) => setTimeout(r, ms))

it('20 stalled inbound attempts (within the caps) raise no MaxListenersExceededWarning', async () => {
  const victim = await node({ maxPendingPerSource: 64, preambleTimeoutMs: 30_000 })
  const port = victim.address.ip4[0]?.port as number
  // Past the preamble: each stall waits in the handshake, as far into the node as a stranger gets.
  const stalls = Array.from({ length: 20 }, () =>
    openStranger('127.0.0.1', port, { send: DIRECT_PREAMBLE }),
  )
  strangers.push(...stalls)
  await Promise.all(stalls.map(connected))
  const end = performance.now() + 10_000
  while (victim.stats.inbound.pending < 20 && performance.now() < end) await until(20)
  expect(victim.stats.inbound.pending).toBe(20)
  await until(100) // warnings are emitted on a later tick
  expect(warnings.map((w) => w.message)).toEqual([])
})

it('listeners on long-lived signals go back to where they were after 30 operations settle', async () => {
  const [a, b] = [await node(), await node()]
  const port = b.address.ip4[0]?.port as number
  const before = listeners()
  for (let n = 0; n < 10; n++) {
    const junk = openStranger('127.0.0.1', port, { send: Buffer.alloc(40, 0x47) })
    strangers.push(junk)
    await heldMs(junk)
  }
  for (let n = 0; n < 20; n++) {
    const [pipe, inbound] = await Promise.all([a.connect(b.addressText), firstOf(b.incoming)])
    await Promise.all([pipe.close(), inbound.close()])
  }
  await until(100)
  const after = listeners()
  expect(after.most).toBeLessThanOrEqual(before.most)
  expect(after.all).toBeLessThanOrEqual(before.all)
  expect(warnings.map((w) => w.message)).toEqual([])
})
