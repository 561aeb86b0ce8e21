import { MemorySignalingHub } from '@p2pd/interface'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnServer, type TurnServerConfig, turn } from '../src/index.js'
import { context, exchange, relayedPair } from './relay-pair.js'

describe('turn() strategy', () => {
  let coturn: Coturn
  const servers: TurnServer[] = []
  beforeAll(async () => {
    coturn = await startCoturn()
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()))
    await coturn?.stop()
  })

  it('through one shared coturn (offerer over TCP): relayed secure pipe, both ways', async () => {
    const udp: TurnServerConfig = {
      host: coturn.host,
      port: coturn.port,
      username: coturn.user,
      password: coturn.password,
    }
    // UDP relays (tcp: false): the TCP-allocation path has its own tests (tcp-strategy).
    const offerer = turn({ servers: [{ ...udp, transport: 'tcp' }], tcp: false })
    const answerer = turn({ servers: [udp], tcp: false })
    const { pa, pb, rawA, rawB, alice, bob, close } = await relayedPair(offerer, answerer)
    expect(rawA.initiator).toBe(true)
    expect(rawB.initiator).toBe(false)
    expect(rawA.relayed && rawB.relayed).toBe(true)
    expect(rawA.remote).toEqual(rawB.local)
    expect(pa.remotePeer).toBe(bob.nodeId)
    expect(pb.remotePeer).toBe(alice.nodeId)
    expect(pa.strategy).toBe('turn')
    expect(pa.path.relayed).toBe(true)
    await exchange(1_000_000, pa, pb)
    await exchange(200_000, pb, pa)
    await Promise.all([pa.close(), pb.close()])
    await close()
  })

  it('each peer on its own server (ours)', async () => {
    const one = new TurnServer({ users: { a: 'pa' }, allowLoopbackPeers: true })
    const two = new TurnServer({ users: { b: 'pb' }, allowLoopbackPeers: true })
    servers.push(one, two)
    const [e1, e2] = await Promise.all([one.start(), two.start()])
    const sa = turn({ servers: [{ ...e1, username: 'a', password: 'pa' }], tcp: false })
    const sb = turn({ servers: [{ ...e2, username: 'b', password: 'pb' }], tcp: false })
    const { pa, pb, close } = await relayedPair(sa, sb)
    await exchange(300_000, pa, pb)
    expect(one.stats.relayedToPeers).toBeGreaterThan(0)
    expect(two.stats.relayedToPeers).toBeGreaterThan(0)
    await Promise.all([pa.close(), pb.close()])
    await close()
    // The pipes' close released both allocations (after the stream's linger).
    for (let i = 0; i < 40 && one.allocationCount + two.allocationCount > 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(one.allocationCount + two.allocationCount).toBe(0)
  })

  it('an answerer that cannot allocate answers with an error (typed TURN_SIGNALING)', async () => {
    const good = turn({
      servers: [
        { host: coturn.host, port: coturn.port, username: coturn.user, password: coturn.password },
      ],
    })
    const bad = turn({
      servers: [{ host: coturn.host, port: coturn.port, username: coturn.user, password: 'nope' }],
      client: { timeoutMs: 2000 },
    })
    const hub = new MemorySignalingHub()
    const sa = hub.connect('alice')
    const sb = hub.connect('bob')
    await Promise.all([sa.start(), sb.start()])
    const accepting = new Promise<unknown>((resolve) => {
      sb.subscribe((inbound) => {
        bad
          .accept?.(context(sb, 'bob', inbound.from), inbound, AbortSignal.timeout(5000))
          .catch(resolve)
      })
    })
    const err = await good
      .connect(context(sa, 'alice', 'bob'), AbortSignal.timeout(5000))
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TURN_SIGNALING' })
    expect(await accepting).toMatchObject({ code: 'TURN_UNAUTHORIZED' })
    await Promise.all([sa.close(), sb.close()])
  })
})
