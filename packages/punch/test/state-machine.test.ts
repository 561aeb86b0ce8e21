import type { Socket } from 'node:net'
import {
  type Clock,
  DeltaType,
  isP2pdError,
  MemorySignalingHub,
  NatType,
  type RawConnection,
} from '@p2pd/interface'
import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PunchEvent, type PunchInit, punch } from '../src/index.js'
import { contextOf, loopbackAddress } from './loopback-context.js'

const clock: Clock = { now: () => Date.now(), offset: 0, uncertainty: 2 }
const open = { type: NatType.OpenInternet, delta: { type: 1, value: 0 } } as const
const prc = { type: NatType.PortRestrictedCone, delta: { type: 2, value: 0 } } as const
const seq1 = { type: NatType.Symmetric, delta: { type: DeltaType.Independent, value: 1 } }
type NatRecordish = typeof open | typeof prc | typeof seq1
let stun: StunServer

beforeAll(async () => {
  stun = new StunServer()
  await stun.start()
})
afterAll(async () => {
  await stun.close()
})

const address = loopbackAddress

const ctxOf = contextOf(clock)

/** Two peers on a memory hub; B answers offers like a node would. */
async function peers(opts: {
  init?: PunchInit
  answer?: boolean
  remoteMode?: boolean
  nat?: NatRecordish
  /** B's NAT when it differs from A's. */
  natB?: NatRecordish
}) {
  const hub = new MemorySignalingHub({ latencyMs: 2 })
  const ids = ['02'.padEnd(66, '1'), '03'.padEnd(66, '2')]
  const [sa, sb] = [hub.connect(ids[0] as string), hub.connect(ids[1] as string)]
  await Promise.all([sa.start(), sb.start()])
  const nat = opts.nat ?? open
  const m = opts.remoteMode ? ['machineA', 'machineB'] : ['same', 'same']
  const a = address(ids[0] as string, m[0] as string, nat)
  const b = address(ids[1] as string, m[1] as string, opts.natB ?? nat)
  const events: PunchEvent[] = []
  const strategy = punch({
    stunServers: [stun.primary],
    ...opts.init,
    onEvent: (e) => events.push(e),
  })
  const accepted: Promise<RawConnection | undefined>[] = []
  const ctl = new AbortController()
  if (opts.answer !== false) {
    sb.subscribe((inbound) => {
      if (inbound.message.type !== 'punch/offer') return
      const p = strategy.accept?.(ctxOf(b, a, sb), inbound, ctl.signal) as Promise<
        RawConnection | undefined
      >
      p.catch(() => {})
      accepted.push(p)
    })
  }
  return {
    strategy,
    events,
    accepted,
    sa,
    sb,
    ctxA: ctxOf(a, b, sa),
    async close() {
      ctl.abort()
      await Promise.allSettled(accepted)
      await Promise.all([sa.close(), sb.close()])
    },
  }
}

const handles = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'TTYWrap' && r !== 'FSReqCallback' && r !== 'Immediate')
    .sort()
const settle = () => new Promise((r) => setTimeout(r, 50))

function diff(before: string[], after: string[]) {
  const left = [...after]
  for (const b of before) {
    const i = left.indexOf(b)
    if (i >= 0) left.splice(i, 1)
  }
  return left
}

describe('punch state machine', () => {
  it('offer → answer → ready(go) → ready(ack) → one kept socket on each side', async () => {
    const p = await peers({})
    const raw = await p.strategy.connect(p.ctxA, AbortSignal.timeout(5000))
    const other = await p.accepted[0]
    expect(other).toBeDefined()
    const s = raw.stream as Socket
    const o = other?.stream as Socket
    // The kept sockets are the two ends of one connection.
    expect(s.localPort).toBe(o.remotePort)
    expect(s.remotePort).toBe(o.localPort)
    expect(raw.initiator).toBe(true)
    expect(other?.initiator).toBe(true)
    const planned = p.events.filter((e) => e.type === 'planned')
    expect(planned.map((e) => e.role).sort()).toEqual(['answerer', 'offerer'])
    s.destroy()
    o.destroy()
    await p.close()
  })

  it('answer-and-go: the answer carries the plan and no ready/ack round follows; off, the ready/ack round', async () => {
    for (const go of [true, false]) {
      const p = await peers({ init: { answerAndGo: go } })
      const toA: string[] = []
      const toB: string[] = []
      p.sa.subscribe((i) => toA.push(i.message.type))
      p.sb.subscribe((i) => toB.push(i.message.type))
      const raw = await p.strategy.connect(p.ctxA, AbortSignal.timeout(5000))
      const other = await p.accepted[0]
      const o = other?.stream as Socket
      expect((raw.stream as Socket).localPort).toBe(o.remotePort)
      if (go) {
        expect(toA).toEqual(['punch/answer'])
        expect(toB).toEqual(['punch/offer'])
      } else {
        expect(toA).toEqual(['punch/answer', 'punch/ready'])
        expect(toB).toEqual(['punch/offer', 'punch/ready'])
      }
      // Both sides act on one plan.
      const planned = p.events.filter((e) => e.type === 'planned')
      expect(new Set(planned.map((e) => (e.type === 'planned' ? e.meetAt : 0))).size).toBe(1)
      ;(raw.stream as Socket).destroy()
      o.destroy()
      await p.close()
    }
  })

  it('fails within its deadline when nobody answers, and leaves no handle behind', async () => {
    const before = handles()
    const p = await peers({ answer: false })
    const t0 = performance.now()
    const err = await p.strategy.connect(p.ctxA, AbortSignal.timeout(400)).catch((e) => e)
    expect(performance.now() - t0).toBeLessThan(1500)
    expect(isP2pdError(err, 'TIMEOUT')).toBe(true)
    await p.close()
    await settle()
    expect(diff(before, handles())).toEqual([])
  })

  it('drops garbage and foreign messages, and stops at once on the peer’s abort', async () => {
    const p = await peers({ answer: false })
    p.sb.subscribe((inbound) => {
      if (inbound.message.type !== 'punch/offer') return
      const id = (inbound.message.body as { id: string }).id
      const to = { nodeId: inbound.from }
      void (async () => {
        await p.sb.publish(to, { type: 'punch/answer', body: { v: 1, id, mappings: 'junk' } })
        await p.sb.publish(to, { type: 'punch/answer', body: 'x'.repeat(100) })
        await p.sb.publish(to, {
          type: 'punch/ready',
          body: { v: 1, id: 'f'.repeat(32), kind: 'abort', reason: 'not yours' },
        })
        await p.sb.publish(to, {
          type: 'punch/ready',
          body: { v: 1, id, kind: 'abort', reason: 'busy' },
        })
      })()
    })
    const err = await p.strategy.connect(p.ctxA, AbortSignal.timeout(3000)).catch((e) => e)
    expect(isP2pdError(err, 'PUNCH_PEER_ABORTED')).toBe(true)
    expect((err as Error).message).toMatch(/busy/)
    await p.close()
  })

  it('the answerer refuses (with an abort) an offer whose mode it does not share', async () => {
    const p = await peers({ answer: false })
    const aborts: unknown[] = []
    p.sa.subscribe((i) => aborts.push(i.message))
    const ctxB = ctxOf(p.ctxA.remote, p.ctxA.local, p.sb)
    const offer = {
      v: 1,
      id: 'c'.repeat(32),
      address: 'x',
      mode: 'remote',
      mappings: [{ host: '127.0.0.1', port: 4000 }],
      candidatePorts: [],
      nat: open,
      uncertaintyMs: 1,
      sentAt: Date.now(),
      meetAt: Date.now(),
    }
    const inbound = {
      from: p.ctxA.local.nodeId,
      message: { type: 'punch/offer', body: offer },
      receivedAt: Date.now(),
    }
    const err = await p.strategy.accept?.(ctxB, inbound, AbortSignal.timeout(2000)).catch((e) => e)
    expect(isP2pdError(err, 'PUNCH_NOT_PUNCHABLE')).toBe(true)
    await settle()
    expect(aborts).toContainEqual(
      expect.objectContaining({
        type: 'punch/ready',
        body: expect.objectContaining({ kind: 'abort' }),
      }),
    )
    // A garbage offer is a typed error, never anything else.
    const bad = await p.strategy
      .accept?.(
        ctxB,
        { ...inbound, message: { type: 'punch/offer', body: { v: 1 } } },
        AbortSignal.timeout(500),
      )
      .catch((e) => e)
    expect(isP2pdError(bad, 'PUNCH_BAD_MESSAGE')).toBe(true)
    await p.close()
  })

  it('a side whose attempts are spent tells the other, which stops long before its window ends', async () => {
    // B is sequential symmetric: one attempt per predicted port, then no SYN of A's can reach
    // it. Over loopback every SYN is refused, so B's loop is spent within a fraction of the
    // window; A, a cone, would fast-retry until the window's end if nobody told it.
    const p = await peers({ remoteMode: true, nat: prc, natB: seq1, init: { windowMs: 8_000 } })
    const t0 = performance.now()
    const err = await p.strategy.connect(p.ctxA, AbortSignal.timeout(20_000)).catch((e) => e)
    const ms = performance.now() - t0
    expect(isP2pdError(err, 'PUNCH_PEER_ABORTED')).toBe(true)
    expect((err as Error).message).toMatch(/every attempt failed/)
    expect(ms).toBeLessThan(5_000)
    const failed = p.events.filter((e) => e.type === 'failed').map((e) => e.role)
    expect(failed.sort()).toEqual(['answerer', 'offerer'])
    await p.close()
  })

  it('aborting mid-punch (remote mode, STUN connections held) releases every handle', async () => {
    const before = handles()
    const p = await peers({ remoteMode: true, nat: prc, init: { windowMs: 10_000 } })
    const ctl = new AbortController()
    // Port-restricted on both sides over loopback: a simultaneous open that RSTs keep failing,
    // so the punch is still running when we abort it.
    const run = p.strategy.connect(p.ctxA, ctl.signal).catch((e) => e)
    await new Promise((r) => setTimeout(r, 400))
    expect(p.events.some((e) => e.type === 'planned')).toBe(true)
    ctl.abort()
    const err = await run
    expect(isP2pdError(err, 'ABORTED')).toBe(true)
    await p.close()
    await settle()
    expect(diff(before, handles())).toEqual([])
  })

  it('a successful punch releases everything but the kept sockets', async () => {
    const before = handles()
    const p = await peers({ remoteMode: true })
    const raw = await p.strategy.connect(p.ctxA, AbortSignal.timeout(5000))
    const other = await p.accepted[0]
    await settle()
    // Exactly the two ends of the kept connection remain.
    expect(diff(before, handles())).toEqual(['TCPSocketWrap', 'TCPSocketWrap'])
    raw.stream.destroy()
    other?.stream.destroy()
    await p.close()
    await settle()
    expect(diff(before, handles())).toEqual([])
  })
})
