// Relayed-over-TCP (turn() on TCP allocations, secure pipe on the relayed byte stream) next
// to the direct pipe (secure pipe on one loopback TCP connection), interleaved in one run,
// through our TurnServer and through coturn. Prints MB/s and the ratio (target ≥ 0.5×
// direct); asserts a generous floor, since other work shares this machine.
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '@p2pd/identity'
import type { Strategy } from '@p2pd/interface'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RelayedTcpStream, TurnServer, turn } from '../src/index.js'
import { relayedPair } from './relay-pair.js'

const MiB = 1024 * 1024
const SIZE = 32 * MiB
const ROUNDS = 5

async function secure(a: Duplex, b: Duplex, aInit = true): Promise<[Duplex, Duplex]> {
  const ia = generateIdentity()
  const ib = generateIdentity()
  return Promise.all([
    secureChannel(a, {
      identity: ia,
      expectedPeer: ib.nodeId,
      initiator: aInit,
      timeoutMs: 10_000,
    }),
    secureChannel(b, {
      identity: ib,
      expectedPeer: ia.nodeId,
      initiator: !aInit,
      timeoutMs: 10_000,
    }),
  ])
}

/** Torn down mid-stream on purpose: their truncation errors are expected. */
function quietly(...pipes: Duplex[]): void {
  for (const p of pipes) {
    p.on('error', () => {})
  }
}

async function directPair(): Promise<[Duplex, Duplex, () => Promise<void>]> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const a = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port })
  a.setNoDelay(true)
  const [[b]] = await Promise.all([accepted, once(a, 'connect')])
  b.setNoDelay(true)
  const [pa, pb] = await secure(a, b)
  return [
    pa,
    pb,
    async () => {
      quietly(pa, pb)
      a.destroy()
      b.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  ]
}

/** The strategy on both ends over in-memory signaling (`relayedPair` of relay-pair.ts). */
async function relayed(s: Strategy): Promise<[Duplex, Duplex, () => Promise<void>]> {
  const { pa, pb, rawA, logA, close } = await relayedPair(s, s, { timeoutMs: 20_000 })
  expect(rawA.stream).toBeInstanceOf(RelayedTcpStream)
  // What is measured is the path users get: the offerer's host straight to the far relay.
  expect(
    logA.some((l) => l.includes(', one hop (from')),
    logA.join('\n'),
  ).toBe(true)
  return [
    pa,
    pb,
    async () => {
      quietly(pa, pb)
      pa.destroy()
      pb.destroy()
      await close()
    },
  ]
}

/** SIZE bytes a → b with backpressure, hashed on both ends; MB/s. */
async function measure(a: Duplex, b: Duplex): Promise<number> {
  const chunk = randomBytes(64 * 1024)
  const sent = createHash('sha256')
  const got = createHash('sha256')
  let received = 0
  const done = new Promise<void>((resolve) => {
    b.on('data', (c: Buffer) => {
      got.update(c)
      received += c.length
      if (received >= SIZE) resolve()
    })
  })
  const t0 = performance.now()
  for (let n = 0; n < SIZE; n += chunk.length) {
    sent.update(chunk)
    if (!a.write(chunk)) await once(a, 'drain')
  }
  await done
  const seconds = (performance.now() - t0) / 1000
  expect(got.digest('hex')).toBe(sent.digest('hex'))
  return SIZE / MiB / seconds
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number

describe('relayed over TCP vs direct, loopback', () => {
  let coturn: Coturn
  let ours: TurnServer
  beforeAll(async () => {
    coturn = await startCoturn()
    ours = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true })
    await ours.start()
  })
  afterAll(async () => {
    await ours?.close()
    await coturn?.stop()
  })

  it(`prints MB/s for ${SIZE / MiB} MiB one way (median of ${ROUNDS}, interleaved)`, async () => {
    const viaOurs = turn({ servers: [{ ...ours.address, username: 'u', password: 'p' }] })
    // tcp: true: this measures the TCP relay; on a loaded machine the Allocate round trip to
    // coturn can pass the ~5 ms beyond which the strategy would pick its UDP relay.
    const viaCoturn = turn({
      servers: [
        { host: coturn.host, port: coturn.port, username: coturn.user, password: coturn.password },
      ],
      tcp: true,
    })
    const runs: Record<'direct' | 'ours' | 'coturn', number[]> = {
      direct: [],
      ours: [],
      coturn: [],
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, make] of [
        ['direct', directPair],
        ['ours', () => relayed(viaOurs)],
        ['coturn', () => relayed(viaCoturn)],
      ] as const) {
        const [a, b, close] = await make()
        runs[name].push(await measure(a, b))
        await close()
      }
    }
    const direct = median(runs.direct)
    const lines = (['direct', 'ours', 'coturn'] as const).map((k) => {
      const m = median(runs[k])
      return `${k.padEnd(8)} ${m.toFixed(1).padStart(7)} MB/s  ${(m / direct).toFixed(2)}× direct  (runs ${runs[k].map((x) => x.toFixed(0)).join(', ')})`
    })
    console.log(`secure pipe, ${SIZE / MiB} MiB one way, loopback:\n${lines.join('\n')}`)
    // The target is 0.5× direct; the floor asserted leaves room for a loaded machine.
    expect(median(runs.ours) / direct).toBeGreaterThan(0.25)
    // Through coturn the strategy takes one hop (the offerer's host to the answerer's relayed
    // address): 0.4–0.55× of direct in our runs; through its allocation (two passes through
    // coturn) it swung from 0.04× to 0.55×. Its sockets have fixed 64 KiB buffers, so 64 KiB
    // loopback segments can be dropped and wait out a 200 ms retransmission timeout (see the
    // README). That is coturn's speed, not ours: assert only that it carried every byte
    // (measure() checks) and, in its best run, at a useful rate.
    expect(Math.max(...runs.coturn) / direct).toBeGreaterThan(0.05)
  }, 300_000)
})
