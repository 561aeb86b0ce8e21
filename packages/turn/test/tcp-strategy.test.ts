// The turn() strategy over TCP allocations (RFC 6062): preferred when the servers grant them,
// the UDP relay + reliable stream when they do not (442, no TCP listener, a peer without TCP).
import type { Duplex } from 'node:stream'
import type { Strategy } from '@p2pd/interface'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  RelayedTcpStream,
  ReliableStream,
  TurnServer,
  type TurnServerOptions,
  turn,
} from '../src/index.js'
import { exchange, relayedPair } from './relay-pair.js'

/** Both ends of one strategy run; TCP allocations and fallbacks get 20 s. */
const pair = (offerer: Strategy, answerer: Strategy) =>
  relayedPair(offerer, answerer, { timeoutMs: 20_000 })

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

  const coturnConfig = () => ({
    host: coturn.host,
    port: coturn.port,
    username: coturn.user,
    password: coturn.password,
  })

  it('through coturn: both legs TCP, a secure pipe on the relayed byte stream, both ways', async () => {
    const cfg = coturnConfig()
    // tcp: true: a loaded machine may measure coturn farther than the auto choice allows.
    const { pa, pb, rawA, rawB, logA, close } = await pair(
      turn({ servers: [cfg], tcp: true }),
      turn({ servers: [cfg], tcp: true }),
    )
    expect(logA.some((l) => l.includes('tcp: true'))).toBe(true)
    // Reflexive and relayed IP are both 127.0.0.1 here: one permission, and the one hop.
    expect(logA.some((l) => l.includes(', one hop (from'))).toBe(true)
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

  it('through coturn by default: the relay choice names coturn and is the one used', async () => {
    const cfg = coturnConfig()
    const { pa, pb, rawA, rawB, logA, logB, close } = await pair(
      turn({ servers: [cfg] }),
      turn({ servers: [cfg] }),
    )
    // Each side logs its choice from the Allocate's SOFTWARE and round trip. On loopback it
    // is TCP unless the machine is loaded enough to stretch the round trip past ~5 ms.
    for (const [log, raw] of [
      [logA, rawA],
      [logB, rawB],
    ] as const) {
      const line = log.find((l) => /TCP relay on|UDP relay instead/.test(l))
      expect(line, log.join('\n')).toMatch(/coturn/i)
      expect(line).toMatch(/KiB per [\d.]+ ms round trip/)
      if (line?.includes('UDP relay instead')) expect(raw.stream).toBeInstanceOf(ReliableStream)
    }
    if (!logA.some((l) => l.includes('UDP relay instead'))) {
      // The offerer kept TCP: the pair is TCP unless the answerer declined it.
      const declined = logB.some((l) => l.includes('UDP relay instead'))
      expect(rawA.stream).toBeInstanceOf(declined ? ReliableStream : RelayedTcpStream)
    }
    await exchange(1024 * 1024, pa, pb)
    await Promise.all([pa.close(), pb.close()])
    await close()
  })

  it('through our servers (each peer its own): one hop through the answerer’s, data intact', async () => {
    const one = await ours('a')
    const two = await ours('b')
    const { pa, pb, rawA, logA, close } = await pair(
      turn({ servers: [one.config] }),
      turn({ servers: [two.config] }),
    )
    expect(rawA.stream).toBeInstanceOf(RelayedTcpStream)
    expect(logA.join('\n')).toMatch(/, one hop \(from/)
    await exchange(4 * 1024 * 1024, pa, pb)
    await exchange(4 * 1024 * 1024, pb, pa)
    // The offerer's host dialled the answerer's relayed address: only that server relays.
    expect(one.server.stats.tcpSpliced).toBe(0)
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
