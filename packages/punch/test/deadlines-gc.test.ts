import {
  type Clock,
  type InboundSignal,
  MemorySignalingHub,
  NatType,
  type PeerAddress,
  TimeoutError,
} from '@p2pd/interface'
import { underGc } from '@p2pd/testkit/gc'
import { describe, expect, it } from 'vitest'
import { punch } from '../src/index.js'
import { contextOf } from './loopback-context.js'

const clock: Clock = { now: () => Date.now(), offset: 0, uncertainty: 2 }
const open = { type: NatType.OpenInternet, delta: { type: 1, value: 0 } } as const
const ids = ['02'.padEnd(66, '1'), '03'.padEnd(66, '2')] as const

function address(nodeId: string): PeerAddress {
  return {
    signal: [0],
    ip4: [{ netifaceIndex: 0, ifIndex: 0, ext: '127.0.0.1', nic: '127.0.0.1', port: 9, nat: open }],
    ip6: [],
    nodeId,
    legacy: false,
    machineId: 'same',
  }
}

const ctxOf = contextOf(clock)

/** Two peers on a memory hub; nobody answers on B unless the test subscribes. */
async function pair() {
  const hub = new MemorySignalingHub({ latencyMs: 2 })
  const [sa, sb] = [hub.connect(ids[0]), hub.connect(ids[1])]
  await Promise.all([sa.start(), sb.start()])
  const [a, b] = [address(ids[0]), address(ids[1])]
  return {
    sa,
    sb,
    ctxA: ctxOf(a, b, sa),
    ctxB: ctxOf(b, a, sb),
    close: () => Promise.all([sa.close(), sb.close()]),
  }
}

/** Timers, sockets and handles alive now (to check that a punch leaves none behind). */
const handles = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'TTYWrap' && r !== 'FSReqCallback' && r !== 'Immediate')
    .sort()

function leftOver(before: string[], after: string[]): string[] {
  const left = [...after]
  for (const b of before) {
    const i = left.indexOf(b)
    if (i >= 0) left.splice(i, 1)
  }
  return left
}

describe('punch deadlines survive garbage collection', () => {
  it('an offer nobody answers settles at the caller’s deadline with a TimeoutError', async () => {
    const p = await pair()
    const before = handles()
    const r = await underGc(1000, () => punch().connect(p.ctxA, AbortSignal.timeout(1000)))
    expect(r.err).toBeInstanceOf(TimeoutError)
    expect(r.ms).toBeGreaterThanOrEqual(995)
    expect(r.ms).toBeLessThanOrEqual(r.limitMs)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(leftOver(before, handles())).toEqual([])
    await p.close()
  })

  it('an answerer whose offerer goes silent gives up at readyTimeoutMs, under GC', async () => {
    const p = await pair()
    const strategy = punch({ readyTimeoutMs: 1000 })
    // A's offer, by hand: A then never reads B's answer, so punch/ready never comes.
    const offer: InboundSignal = {
      from: ids[0],
      message: {
        type: 'punch/offer',
        body: {
          v: 1,
          id: 'c'.repeat(32),
          address: 'x',
          mode: 'self',
          mappings: [{ host: '127.0.0.1', port: 4000 }],
          candidatePorts: [],
          nat: open,
          uncertaintyMs: 1,
          sentAt: Date.now(),
          meetAt: Date.now() + 3000,
        },
      },
      receivedAt: Date.now(),
    }
    const before = handles()
    // No caller deadline: only the punch's own bounds the wait.
    const r = await underGc(1000, async () =>
      strategy.accept?.(p.ctxB, offer, new AbortController().signal),
    )
    expect(r.err).toBeInstanceOf(TimeoutError)
    expect((r.err as Error).message).toBe('punch: waiting for punch/ready timed out after 1000 ms')
    expect(r.ms).toBeGreaterThanOrEqual(995)
    expect(r.ms).toBeLessThanOrEqual(r.limitMs)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(leftOver(before, handles())).toEqual([])
    await p.close()
  })
})
