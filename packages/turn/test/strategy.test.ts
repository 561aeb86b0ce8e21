import { createHash, randomBytes } from 'node:crypto'
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
import { TurnServer, type TurnServerConfig, turn } from '../src/index.js'

function peer(nodeId: string): PeerAddress {
  return { signal: [0], ip4: [], ip6: [], nodeId, legacy: false, machineId: 'm' }
}

function context(signaling: Signaling, self: string, remote: string): StrategyContext {
  return {
    local: peer(self),
    localText: `address-of-${self}`,
    remote: peer(remote),
    signaling,
    clock: systemClock,
    expectConnection: () => Promise.reject(new Error('not used')),
    log: () => {},
  }
}

/**
 * Runs one strategy between two signaling endpoints the way the node does (the responder
 * routes `accepts` messages to `accept`), then the secure channel on both raw connections.
 */
async function connectPair(offerer: Strategy, answerer: Strategy) {
  const hub = new MemorySignalingHub()
  const alice = generateIdentity()
  const bob = generateIdentity()
  const sa = hub.connect(alice.nodeId)
  const sb = hub.connect(bob.nodeId)
  await Promise.all([sa.start(), sb.start()])
  const accepted = new Promise<RawConnection>((resolve, reject) => {
    sb.subscribe((inbound) => {
      if (!answerer.accepts?.includes(inbound.message.type)) return
      answerer
        .accept?.(context(sb, bob.nodeId, inbound.from), inbound, AbortSignal.timeout(10_000))
        .then((raw) => (raw ? resolve(raw) : reject(new Error('no connection'))), reject)
    })
  })
  const signal = AbortSignal.timeout(10_000)
  const [rawA, rawB] = await Promise.all([
    offerer.connect(context(sa, alice.nodeId, bob.nodeId), signal),
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
  return { pa, pb, rawA, rawB, alice, bob, close: () => Promise.all([sa.close(), sb.close()]) }
}

async function exchange(
  size: number,
  pa: import('node:stream').Duplex,
  pb: import('node:stream').Duplex,
) {
  const data = randomBytes(size)
  const got = createHash('sha256')
  let n = 0
  const done = new Promise<void>((resolve) => {
    pb.on('data', (c: Buffer) => {
      got.update(c)
      n += c.length
      if (n === size) resolve()
    })
  })
  pa.write(data)
  await done
  expect(got.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
}

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
    const { pa, pb, rawA, rawB, alice, bob, close } = await connectPair(offerer, answerer)
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
    const { pa, pb, close } = await connectPair(sa, sb)
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
