import { createServer, type Server, type Socket } from 'node:net'
import { type Clock, DeltaType, MemorySignalingHub, NatType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { claimProposed, dialsFirst, samePairSet } from '../src/flow/early.js'
import { punch } from '../src/index.js'
import { settings } from '../src/options.js'
import type { PunchAnswer, PunchOffer } from '../src/protocol/messages.js'
import { freePorts } from '../src/sockets/free-port.js'
import { contextOf, loopbackAddress } from './loopback-context.js'

// Dial first (flow/early.ts): against a port-preserving cone that drops refused SYNs, the
// offerer dials the answerer's proposed ports before any answer, and an answerer that takes
// them dials at once — no meeting instant, whatever the clocks.

const clock: Clock = { now: () => Date.now(), offset: 0, uncertainty: 60 }
const tcp = (synPolicy: 'drop' | 'rst') => ({ filtering: 'APDF', synPolicy }) as const
const prc = { type: NatType.PortRestrictedCone, delta: { type: DeltaType.Equal, value: 0 } }
const ids = ['02'.padEnd(66, '1'), '03'.padEnd(66, '2')] as const

const address = loopbackAddress

const ctxOf = contextOf(clock)

async function hub() {
  const h = new MemorySignalingHub({ latencyMs: 2 })
  const [sa, sb] = [h.connect(ids[0]), h.connect(ids[1])]
  await Promise.all([sa.start(), sb.start()])
  return { sa, sb }
}

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port }, () => resolve(server))
  })
const close = (server: Server) => new Promise((r) => server.close(r))

describe('dialsFirst', () => {
  const s = settings({})
  it('against a port-preserving cone not known to RST, in a remote simultaneous open', () => {
    expect(dialsFirst(s, 'remote', prc, prc)).toBe(true)
    expect(dialsFirst(s, 'remote', prc, { ...prc, tcp: tcp('drop') })).toBe(true)
    expect(dialsFirst(s, 'remote', { ...prc, tcp: tcp('rst') }, prc)).toBe(true)
  })
  it('not toward a NAT that RSTs, a cone that moves ports, a symmetric side, outside remote, or off', () => {
    expect(dialsFirst(s, 'remote', prc, { ...prc, tcp: tcp('rst') })).toBe(false)
    const moving = { ...prc, delta: { type: DeltaType.Random, value: 0 } }
    expect(dialsFirst(s, 'remote', prc, moving)).toBe(false)
    const seq = { type: NatType.Symmetric, delta: { type: DeltaType.Independent, value: 1 } }
    expect(dialsFirst(s, 'remote', seq, prc)).toBe(false)
    expect(dialsFirst(s, 'lan', prc, prc)).toBe(false)
    expect(dialsFirst(settings({ dialFirst: false }), 'remote', prc, prc)).toBe(false)
    expect(dialsFirst(settings({ answerAndGo: false }), 'remote', prc, prc)).toBe(false)
  })
})

describe('claimProposed and samePairSet', () => {
  const pair = {
    family: 4 as const,
    mine: { netifaceIndex: 0, ifIndex: 0, ext: '198.18.2.1', nic: '10.2.0.2', port: 9, nat: prc },
    theirs: { netifaceIndex: 0, ifIndex: 0, ext: '198.18.1.1', nic: '10.1.0.2', port: 9, nat: prc },
  }
  it('takes every proposed port when all are free, none when one is taken', async () => {
    const ports = await freePorts('127.0.0.1', 2, [])
    const held = await claimProposed(pair, ports)
    expect(held?.mappings.map((m) => m.local)).toEqual(ports)
    expect(held?.mappings.map((m) => m.ext)).toEqual(
      ports.map((port) => ({ host: '198.18.2.1', port })),
    )
    const busy = await listen(ports[1] as number)
    try {
      expect(await claimProposed(pair, ports)).toBeUndefined()
    } finally {
      await close(busy)
    }
    expect(await claimProposed(pair, [])).toBeUndefined()
    expect(await claimProposed(pair, [ports[0] as number, ports[0] as number])).toBeUndefined()
  })
  it('compares pairs as sets of local port → endpoint', () => {
    const p = (localPort: number, port: number, index = 0) => ({
      localPort,
      remote: { host: '1.2.3.4', port },
      index,
      maxAttempts: 1,
    })
    expect(samePairSet([p(1, 2), p(3, 4, 1)], [p(3, 4), p(1, 2, 1)])).toBe(true)
    expect(samePairSet([p(1, 2)], [p(1, 5)])).toBe(false)
    expect(samePairSet([p(1, 2)], [p(1, 2), p(3, 4)])).toBe(false)
  })
})

describe('dial first, end to end on loopback (remote mode)', () => {
  it('the offerer dials the proposed ports before any answer', async () => {
    const { sa, sb } = await hub()
    const a = address(ids[0], 'machineA', prc)
    const b = address(ids[1], 'machineB', { ...prc, tcp: tcp('drop') })
    const offers: PunchOffer[] = []
    sb.subscribe((i) => {
      if (i.message.type === 'punch/offer') offers.push(i.message.body as PunchOffer)
    })
    const ctl = new AbortController()
    const run = punch({ predictMappings: true })
      .connect(ctxOf(a, b, sa), ctl.signal)
      .catch((e: Error) => e)
    try {
      await expect.poll(() => offers.length, { timeout: 5_000 }).toBe(1)
      const proposed = offers[0]?.dialing ?? []
      expect(proposed).toHaveLength(2)
      // Nobody answers. A listener on a proposed port is dialled all the same (the offerer
      // retries after each RST), from one of the offer's own mappings.
      const server = await listen(proposed[0] as number)
      const from = await new Promise<Socket>((resolve) => server.once('connection', resolve))
      expect(offers[0]?.mappings.map((m) => m.port)).toContain(from.remotePort)
      from.destroy()
      await close(server)
    } finally {
      ctl.abort()
      await run
      await Promise.all([sa.close(), sb.close()])
    }
  })

  it('the answerer takes the proposed ports and answers with a plan that starts now; a taken port: its own ports', async () => {
    for (const taken of [false, true]) {
      const { sa, sb } = await hub()
      const a = address(ids[0], 'machineA', prc)
      const b = address(ids[1], 'machineB', { ...prc, tcp: tcp('drop') })
      const answers: PunchAnswer[] = []
      sa.subscribe((i) => {
        if (i.message.type === 'punch/answer') answers.push(i.message.body as PunchAnswer)
      })
      const proposed = await freePorts('127.0.0.1', 2, [])
      const busy = taken ? await listen(proposed[0] as number) : undefined
      const now = Date.now()
      const offer = {
        v: 1,
        id: 'd'.repeat(32),
        address: 'x',
        mode: 'remote',
        mappings: [
          { host: '127.0.0.1', port: 1 },
          { host: '127.0.0.1', port: 2 },
        ],
        candidatePorts: [],
        nat: { ...prc, tcp: tcp('rst') },
        uncertaintyMs: 60,
        sentAt: now,
        meetAt: now + 3000,
        go: true,
        dialing: proposed,
      }
      const ctl = new AbortController()
      const run = punch({ windowMs: 200 })
        .accept?.(
          ctxOf(b, a, sb),
          { from: ids[0], message: { type: 'punch/offer', body: offer }, receivedAt: now },
          ctl.signal,
        )
        .catch((e: Error) => e)
      try {
        await expect.poll(() => answers.length, { timeout: 5_000 }).toBe(1)
        const answer = answers[0] as PunchAnswer
        const ports = answer.mappings.map((m) => m.port)
        if (taken) {
          expect(ports).not.toEqual(proposed)
          // Its own ports: an instant would have to cover both clocks (±60 ms each), over
          // answer-and-go's bound, so the offerer plans (the ready/ack round).
          expect(answer.plan).toBeUndefined()
        } else {
          expect(ports).toEqual(proposed)
          // The offerer's SYNs are out: no instant to wait for, whatever the clocks.
          expect(answer.plan).toBeDefined()
          expect((answer.plan?.meetAt ?? 0) - answer.sentAt).toBeLessThan(100)
        }
      } finally {
        ctl.abort()
        await run
        if (busy) await close(busy)
        await Promise.all([sa.close(), sb.close()])
      }
    }
  })
})
