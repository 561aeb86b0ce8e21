// The turn() strategy over TCP allocations (RFC 6062): preferred when the servers grant them,
// the UDP relay + reliable stream when they do not (442, no TCP listener, a peer without TCP).
import { createHash, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '@p2pd/identity'
import {
  MemorySignalingHub,
  type PeerAddress,
  type RawConnection,
  type Signaling,
  type Strategy,
  type StrategyContext,
  systemClock,
} from '@p2pd/interface'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  RelayedTcpStream,
  ReliableStream,
  TurnServer,
  type TurnServerOptions,
  turn,
} from '../src/index.js'

function peer(nodeId: string): PeerAddress {
  return { signal: [0], ip4: [], ip6: [], nodeId, legacy: false, machineId: 'm' }
}

function context(signaling: Signaling, self: string, remote: string, log: string[]) {
  return {
    local: peer(self),
    localText: `address-of-${self}`,
    remote: peer(remote),
    signaling,
    clock: systemClock,
    expectConnection: () => Promise.reject(new Error('not used')),
    log: (m: string) => log.push(m),
  } satisfies StrategyContext
}

/**
 * One strategy between two in-memory signaling endpoints the way the node runs it (the
 * answerer's accept may produce nothing — a declined TCP offer — and a later offer the
 * connection), then the secure channel on both ends.
 */
async function pair(offerer: Strategy, answerer: Strategy) {
  const hub = new MemorySignalingHub()
  const alice = generateIdentity()
  const bob = generateIdentity()
  const sa = hub.connect(alice.nodeId)
  const sb = hub.connect(bob.nodeId)
  await Promise.all([sa.start(), sb.start()])
  const logA: string[] = []
  const logB: string[] = []
  const accepted = new Promise<RawConnection>((resolve, reject) => {
    sb.subscribe((inbound) => {
      if (!answerer.accepts?.includes(inbound.message.type)) return
      answerer
        .accept?.(context(sb, bob.nodeId, inbound.from, logB), inbound, AbortSignal.timeout(20_000))
        .then((raw) => raw && resolve(raw), reject)
    })
  })
  const [rawA, rawB] = await Promise.all([
    offerer.connect(context(sa, alice.nodeId, bob.nodeId, logA), AbortSignal.timeout(20_000)),
    accepted,
  ])
  const secure = (raw: RawConnection, self: typeof alice, other: string) =>
    secureChannel(raw.stream, {
      identity: self,
      expectedPeer: other,
      initiator: raw.initiator,
      timeoutMs: 8000,
      strategy: 'turn',
      path: { local: raw.local, remote: raw.remote, relayed: raw.relayed },
    })
  const [pa, pb] = await Promise.all([
    secure(rawA, alice, bob.nodeId),
    secure(rawB, bob, alice.nodeId),
  ])
  return { pa, pb, rawA, rawB, logA, logB, close: () => Promise.all([sa.close(), sb.close()]) }
}

async function exchange(size: number, from: Duplex, to: Duplex): Promise<void> {
  const data = randomBytes(size)
  const got = createHash('sha256')
  let n = 0
  const done = new Promise<void>((resolve) => {
    const onData = (c: Buffer) => {
      got.update(c)
      n += c.length
      if (n >= size) {
        to.off('data', onData)
        resolve()
      }
    }
    to.on('data', onData)
  })
  from.write(data)
  await done
  expect(got.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
}

describe('turn() over TCP allocations', () => {
  let coturn: Coturn
  const servers: TurnServer[] = []
  const ours = async (user: string, opts: Partial<TurnServerOptions> = {}) => {
    const s = new TurnServer({ users: { [user]: 'pw' }, allowLoopbackPeers: true, ...opts })
    servers.push(s)
    const at = await s.start()
    return { server: s, config: { ...at, username: user, password: 'pw' } }
  }
  beforeAll(async () => {
    coturn = await startCoturn()
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()))
    await coturn?.stop()
  })

  it('through coturn: both legs TCP, a secure pipe on the relayed byte stream, both ways', async () => {
    const cfg = {
      host: coturn.host,
      port: coturn.port,
      username: coturn.user,
      password: coturn.password,
    }
    const { pa, pb, rawA, rawB, close } = await pair(
      turn({ servers: [cfg] }),
      turn({ servers: [cfg] }),
    )
    expect(rawA.stream).toBeInstanceOf(RelayedTcpStream)
    expect(rawB.stream).toBeInstanceOf(RelayedTcpStream)
    expect(rawA.relayed && rawB.relayed).toBe(true)
    expect(rawA.remote).toEqual(rawB.local)
    expect(rawB.remote).toEqual(rawA.local)
    await exchange(4 * 1024 * 1024, pa, pb)
    await exchange(4 * 1024 * 1024, pb, pa)
    await Promise.all([pa.close(), pb.close()])
    await close()
  })

  it('through our servers (each peer its own): TCP relays spliced, data intact', async () => {
    const one = await ours('a')
    const two = await ours('b')
    const { pa, pb, rawA, close } = await pair(
      turn({ servers: [one.config] }),
      turn({ servers: [two.config] }),
    )
    expect(rawA.stream).toBeInstanceOf(RelayedTcpStream)
    await exchange(4 * 1024 * 1024, pa, pb)
    await exchange(4 * 1024 * 1024, pb, pa)
    expect(one.server.stats.tcpSpliced).toBe(1)
    expect(two.server.stats.tcpSpliced).toBe(1)
    expect(one.server.stats.relayedToPeers + two.server.stats.relayedToPeers).toBe(0)
    await Promise.all([pa.close(), pb.close()])
    await close()
    for (let i = 0; i < 60 && one.server.allocationCount + two.server.allocationCount > 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(one.server.allocationCount + two.server.allocationCount).toBe(0)
  })

  it('falls back to the UDP relay when the server refuses TCP allocations (442)', async () => {
    const s = await ours('u', { tcp: { allocations: false } })
    const { pa, pb, rawA, rawB, logA, close } = await pair(
      turn({ servers: [s.config] }),
      turn({ servers: [s.config] }),
    )
    expect(rawA.stream).toBeInstanceOf(ReliableStream)
    expect(rawB.stream).toBeInstanceOf(ReliableStream)
    expect(logA.join('\n')).toMatch(/no TCP relay.*442/)
    await exchange(256 * 1024, pa, pb)
    expect(s.server.stats.relayedToPeers).toBeGreaterThan(0)
    await Promise.all([pa.close(), pb.close()])
    await close()
  })

  it('falls back when TCP to the server fails (UDP-only server)', async () => {
    const s = await ours('u', { tcp: { listen: false } })
    const { pa, pb, rawA, close } = await pair(
      turn({ servers: [s.config] }),
      turn({ servers: [s.config] }),
    )
    expect(rawA.stream).toBeInstanceOf(ReliableStream)
    await exchange(64 * 1024, pb, pa)
    await Promise.all([pa.close(), pb.close()])
    await close()
  })

  it('falls back when the answerer has TCP relays off (it answers fallback, then accepts UDP)', async () => {
    const s = await ours('u')
    const { pa, pb, rawA, rawB, logB, close } = await pair(
      turn({ servers: [s.config] }),
      turn({ servers: [s.config], tcp: false }),
    )
    expect(rawA.stream).toBeInstanceOf(ReliableStream)
    expect(rawB.stream).toBeInstanceOf(ReliableStream)
    expect(logB.join('\n')).toMatch(/offerer falls back to UDP/)
    await exchange(64 * 1024, pa, pb)
    await Promise.all([pa.close(), pb.close()])
    await close()
  })

  it('a server closed mid-stream fails both pipes with TURN_RELAY_LOST in the cause chain', async () => {
    const s = await ours('u')
    const { pa, pb, close } = await pair(
      turn({ servers: [s.config] }),
      turn({ servers: [s.config] }),
    )
    await exchange(64 * 1024, pa, pb)
    const failed = (p: Duplex) =>
      new Promise<unknown>((resolve) => {
        p.once('error', resolve)
        p.once('close', () => resolve(undefined))
      })
    const [ea, eb] = [failed(pa), failed(pb)]
    await s.server.close()
    const { isRelayLost } = await import('../src/index.js')
    expect(isRelayLost(await ea)).toBe(true)
    expect(isRelayLost(await eb)).toBe(true)
    await close()
  })

  it('only the offerer’s server dies: the answerer (other relay) fails with TURN_RELAY_LOST too', async () => {
    const one = await ours('a')
    const two = await ours('b')
    const { pa, pb, close } = await pair(
      turn({ servers: [one.config] }),
      turn({ servers: [two.config] }),
    )
    await exchange(64 * 1024, pa, pb)
    const failed = (p: Duplex) =>
      new Promise<{ error: unknown; at: number }>((resolve) => {
        p.once('error', (error) => resolve({ error, at: performance.now() }))
        p.once('close', () => resolve({ error: undefined, at: performance.now() }))
      })
    const [ea, eb] = [failed(pa), failed(pb)]
    const t0 = performance.now()
    await one.server.close()
    const { isRelayLost } = await import('../src/index.js')
    const [a, b] = await Promise.all([ea, eb])
    expect(isRelayLost(a.error)).toBe(true)
    expect(isRelayLost(b.error)).toBe(true)
    expect(Math.max(a.at, b.at) - t0).toBeLessThan(5000)
    await close()
  })

  it('a clean close through TCP relays is no relay loss on either end', async () => {
    const s = await ours('u')
    const { pa, pb, close } = await pair(
      turn({ servers: [s.config] }),
      turn({ servers: [s.config] }),
    )
    await exchange(64 * 1024, pa, pb)
    const errors: unknown[] = []
    pa.on('error', (e) => errors.push(e))
    pb.on('error', (e) => errors.push(e))
    const bClosed = new Promise((r) => pb.once('close', r))
    await pa.close()
    await bClosed
    expect(errors).toEqual([])
    await close()
  })
})
