// The TCP relay in one hop: the offerer's host connects straight to the answerer's relayed
// address (permitted for the offerer's reflexive IP), instead of Connecting through its own
// allocation. The servers relay on 127.0.0.3 while the peers reach them from 127.0.0.1, so the
// reflexive IP (127.0.0.1) and the relayed IP (127.0.0.3) are different permissions.
import { type SignalMessage, type Strategy, TimeoutError } from '@p2pd/interface'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RelayedTcpStream, TurnServer, TurnTcpClient, turn } from '../src/index.js'
import {
  connectRelayed,
  ONE_HOP_MAX_MS,
  ONE_HOP_MIN_MS,
  oneHopTimeoutMs,
} from '../src/tcp-one-hop.js'
import { exchange, relayedPair } from './relay-pair.js'
import { tcpPeer } from './tcp-helpers.js'

const RELAY_IP = '127.0.0.3'
const MiB = 1024 * 1024

/** A body with `key` replaced (or removed, with `value` undefined) in messages of `type`. */
const edited =
  (type: string, key: string, value: unknown) =>
  (m: SignalMessage): SignalMessage => {
    if (m.type !== type) return m
    const body = { ...(m.body as Record<string, unknown>) }
    if (value === undefined) delete body[key]
    else body[key] = value
    return { type: m.type, body }
  }

/**
 * Both ends of one strategy run (see relayedPair), the offerer's and the answerer's published
 * messages through `editA` / `editB`; `close` ends the pipes, then the signaling.
 */
async function pair(
  offerer: Strategy,
  answerer: Strategy,
  editA?: (m: SignalMessage) => SignalMessage,
  editB?: (m: SignalMessage) => SignalMessage,
) {
  const run = await relayedPair(offerer, answerer, {
    timeoutMs: 20_000,
    ...(editA ? { editA } : {}),
    ...(editB ? { editB } : {}),
  })
  const { pa, pb } = run
  // A failed test leaves them open: torn down before the servers stop.
  cleanup.push(() => {
    for (const p of [pa, pb]) p.on('error', () => {}).destroy()
    return run.close()
  })
  const close = async () => {
    await Promise.all([pa.close(), pb.close()])
    await run.close()
  }
  return { ...run, close }
}

const cleanup: Array<() => Promise<unknown>> = []

const oneHopLine = (log: string[]) => log.find((l) => l.includes(', one hop (from'))
const throughLine = (log: string[]) => log.find((l) => l.includes('through our allocation'))

describe('TCP relay in one hop', () => {
  let coturn: Coturn
  let ours: TurnServer
  /** The client config for `which` server (both started in beforeAll). */
  const configOf = (which: 'coturn' | 'TurnServer') =>
    which === 'coturn'
      ? { host: coturn.host, port: coturn.port, username: coturn.user, password: coturn.password }
      : { ...ours.address, username: 'u', password: 'p' }
  beforeAll(async () => {
    coturn = await startCoturn({ relayHost: RELAY_IP })
    ours = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true, relayHost: RELAY_IP })
    await ours.start()
  })
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f()
  })
  afterAll(async () => {
    await ours?.close()
    await coturn?.stop()
  })

  it('the one-hop deadline follows the Allocate round trip, within its bounds', () => {
    expect(oneHopTimeoutMs(undefined)).toBe(ONE_HOP_MAX_MS)
    expect(oneHopTimeoutMs(0.2)).toBe(ONE_HOP_MIN_MS)
    expect(oneHopTimeoutMs(150)).toBe(1200)
    expect(oneHopTimeoutMs(900)).toBe(ONE_HOP_MAX_MS)
  })

  it('a one hop that is never answered is given up at its deadline, then through the allocation', async () => {
    // A plain TCP peer: it takes the one hop but never echoes the id.
    const peer = await tcpPeer()
    cleanup.push(() => peer.close())
    const client = await TurnTcpClient.allocate(
      { ...ours.address, transport: 'tcp', username: 'u', password: 'p' },
      { timeoutMs: 5000 },
    )
    cleanup.push(() => client.close())
    const deadline = oneHopTimeoutMs(client.allocateRttMs)
    const t0 = performance.now()
    const got = await connectRelayed(client, peer.address, 0x01020304, {
      oneHop: true,
      echo: false,
      signal: AbortSignal.timeout(15_000),
    })
    const ms = performance.now() - t0
    cleanup.push(async () => got.socket.destroy())
    expect(got.path).toBe('allocation')
    expect(got.oneHopError).toBeInstanceOf(TimeoutError)
    expect(ms).toBeGreaterThanOrEqual(deadline - 50)
    expect(ms).toBeLessThan(deadline + 5000)
    // Two connections reached the peer: the one hop (from this host), then from our relay.
    await new Promise((r) => setTimeout(r, 50))
    expect(peer.sockets.map((s) => s.remoteAddress)).toEqual(['127.0.0.1', RELAY_IP])
  })

  for (const which of ['coturn', 'TurnServer'] as const) {
    it(`${which}: the offerer's host connects straight to the answerer's relayed address`, async () => {
      const config = configOf(which)
      const before = { ...ours.stats }
      const { pa, pb, rawA, rawB, logA, logB, close } = await pair(
        turn({ servers: [config], tcp: true }),
        turn({ servers: [config], tcp: true }),
      )
      expect(oneHopLine(logA), logA.join('\n')).toContain(`from 127.0.0.1 as the server sees us`)
      expect(throughLine(logA)).toBeUndefined()
      expect(logB.join('\n')).toMatch(/one hop permitted/)
      expect(rawA.stream).toBeInstanceOf(RelayedTcpStream)
      expect(rawA.relayed && rawB.relayed).toBe(true)
      // Both ends are reported by their relayed addresses, as through the allocation; the
      // server saw the connection come from this host (the answerer's log).
      expect(rawA.remote).toEqual(rawB.local)
      expect(rawA.remote.host).toBe(RELAY_IP)
      expect(rawB.remote).toEqual(rawA.local)
      expect(rawA.local.host).toBe(RELAY_IP)
      expect(logB.join('\n')).toMatch(/relayed TCP connection from 127\.0\.0\.1:/)
      await exchange(4 * MiB, pa, pb)
      await exchange(4 * MiB, pb, pa)
      if (which === 'TurnServer') {
        // One spliced pair (peer connection ↔ the answerer's data connection), nothing fused.
        expect(ours.stats.tcpSpliced - before.tcpSpliced).toBe(1)
        expect(ours.stats.tcpFused - before.tcpFused).toBe(0)
      }
      await close()
    })

    it(`${which}: the one hop refused (reflexive IP not the one it comes from): through the offerer's allocation`, async () => {
      const config = configOf(which)
      const before = { ...ours.stats }
      // The answerer permits 127.0.0.9, the one hop comes from 127.0.0.1: the server drops it.
      const { pa, pb, rawA, rawB, logA, connectMs, close } = await pair(
        turn({ servers: [config], tcp: true }),
        turn({ servers: [config], tcp: true }),
        edited('turn/offer', 'reflexive', '127.0.0.9'),
      )
      expect(throughLine(logA), logA.join('\n')).toMatch(/one hop failed/)
      expect(oneHopLine(logA)).toBeUndefined()
      // Our allocation dialled: from our relayed IP (coturn: from the relayed address itself).
      expect(rawA.local.host).toBe(RELAY_IP)
      expect(rawB.remote.host).toBe(RELAY_IP)
      // Refused, not waited out: the fallback starts well before the one-hop deadline ends…
      // unless the server holds the refused connection open (then at most that deadline).
      expect(connectMs).toBeLessThan(ONE_HOP_MAX_MS + 8000)
      await exchange(2 * MiB, pa, pb)
      await exchange(2 * MiB, pb, pa)
      if (which === 'TurnServer') {
        expect(ours.stats.tcpRefusedPeers - before.tcpRefusedPeers).toBeGreaterThanOrEqual(1)
        expect(ours.stats.tcpSpliced - before.tcpSpliced).toBe(2)
        expect(ours.stats.tcpFused - before.tcpFused).toBe(1)
      }
      await close()
    })

    it(`${which}: an offer without reflexive (older offerer): through the offerer's allocation`, async () => {
      const config = configOf(which)
      const before = { ...ours.stats }
      const { pa, pb, logA, logB, close } = await pair(
        turn({ servers: [config], tcp: true }),
        turn({ servers: [config], tcp: true }),
        edited('turn/offer', 'reflexive', undefined),
      )
      expect(throughLine(logA), logA.join('\n')).toMatch(/did not permit our reflexive IP/)
      expect(logB.join('\n')).not.toMatch(/one hop permitted/)
      await exchange(2 * MiB, pa, pb)
      await exchange(2 * MiB, pb, pa)
      if (which === 'TurnServer') expect(ours.stats.tcpFused - before.tcpFused).toBe(1)
      await close()
    })
  }
})
