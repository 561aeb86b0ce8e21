import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import type { Endpoint } from '@p2pd/interface'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnClient, TurnServer } from '../src/index.js'
import { roundTrip } from './helpers.js'

// Hostile ChannelData (RFC 8656 §12.4: channel number ‖ length ‖ data) both ways: into the
// server from an allocation's own 5-tuple, and into the client from its server's address. A
// UDP proxy sits between client `a` and the server, so the test can send as either side.
// Only a bound channel with a truthful-or-short length may carry data, exactly `length` bytes
// of it; everything else is dropped, nothing throws, and both sides keep working.

const users = { alice: 'wonderland', bob: 'builder' }

/** A UDP relay: the client talks to `address`; what it sends goes on to the server. */
class UdpProxy {
  #client: Endpoint | undefined
  private constructor(
    readonly front: Socket,
    readonly back: Socket,
    readonly server: Endpoint,
  ) {
    front.on('message', (msg, from) => {
      this.#client = { host: from.address, port: from.port }
      back.send(msg, server.port, server.host)
    })
    back.on('message', (msg) => this.toClient(msg))
  }

  static async start(server: Endpoint): Promise<UdpProxy> {
    const front = createSocket('udp4')
    const back = createSocket('udp4')
    front.bind(0, '127.0.0.1')
    back.bind(0, '127.0.0.1')
    await Promise.all([once(front, 'listening'), once(back, 'listening')])
    return new UdpProxy(front, back, server)
  }

  get address(): Endpoint {
    return { host: '127.0.0.1', port: this.front.address().port }
  }

  /** As the server, to the client. */
  toClient(msg: Uint8Array): void {
    if (this.#client) this.front.send(msg, this.#client.port, this.#client.host)
  }

  /** As the client (its allocation's 5-tuple), to the server. */
  toServer(msg: Uint8Array): void {
    this.back.send(msg, this.server.port, this.server.host)
  }

  close(): void {
    this.front.close()
    this.back.close()
  }
}

/** A ChannelData message that may lie about its length. */
function channelData(channel: number, declared: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + payload.length)
  b.writeUInt16BE(channel, 0)
  b.writeUInt16BE(declared, 2)
  b.set(payload, 4)
  return b
}

interface Hostile {
  readonly bound: boolean
  readonly channel: number
  readonly declared: number
  readonly payload: Uint8Array
}

/** The bound channel or any other 01-prefixed number; lengths true, short, long or absurd. */
const hostile = (boundChannel: number) =>
  fc
    .record({
      bound: fc.boolean(),
      other: fc.integer({ min: 0x4000, max: 0x7fff }),
      payload: fc.uint8Array({ maxLength: 600 }),
      lie: fc.oneof(
        fc.constant(0),
        fc.integer({ min: -600, max: 600 }),
        fc.integer({ min: 0, max: 0xffff }),
      ),
    })
    .map(
      ({ bound, other, payload, lie }): Hostile => ({
        bound: bound || other === boundChannel,
        channel: bound ? boundChannel : other,
        declared: Math.max(0, Math.min(0xffff, payload.length + lie)),
        payload,
      }),
    )

/** What a correct decoder delivers for `h`: `declared` bytes, or nothing. */
const delivered = (h: Hostile) =>
  h.bound && h.declared <= h.payload.length
    ? Buffer.from(h.payload.subarray(0, h.declared)).toString('hex')
    : undefined

const sorted = (xs: string[]) => [...xs].sort()

let server: TurnServer
let proxy: UdpProxy
let a: TurnClient
let b: TurnClient
let aChannel = 0
let bChannel = 0

beforeAll(async () => {
  server = new TurnServer({ users, allowLoopbackPeers: true })
  await server.start()
  proxy = await UdpProxy.start(server.address)
  const opts = { timeoutMs: 5000, rtoMs: 100 }
  ;[a, b] = await Promise.all([
    TurnClient.allocate({ ...proxy.address, username: 'alice', password: users.alice }, opts),
    TurnClient.allocate({ ...server.address, username: 'bob', password: users.bob }, opts),
  ])
  await roundTrip(a, b, 'channel')
  aChannel = await a.bindChannel(b.relayed)
  bChannel = await b.bindChannel(a.relayed)
})

afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()])
  proxy?.close()
  await server?.close()
})

describe('hostile ChannelData', () => {
  it('into the server: only a bound channel with an honest or short length is relayed (property)', async () => {
    const atB: string[] = []
    const onData = (d: Buffer) => atB.push(d.toString('hex'))
    b.on('data', onData)
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostile(aChannel), { minLength: 1, maxLength: 20 }),
          async (batch) => {
            atB.length = 0
            const before = server.stats.dropped + server.stats.relayedToPeers
            for (const h of batch) proxy.toServer(channelData(h.channel, h.declared, h.payload))
            // Every datagram is accounted for: relayed or dropped (loopback UDP, small batches).
            await expect
              .poll(() => server.stats.dropped + server.stats.relayedToPeers - before, {
                timeout: 10_000,
              })
              .toBe(batch.length)
            const expected = batch.map(delivered).filter((x) => x !== undefined)
            await expect.poll(() => atB.length, { timeout: 10_000 }).toBe(expected.length)
            expect(sorted(atB)).toEqual(sorted(expected))
          },
        ),
        { numRuns: 25 },
      )
    } finally {
      b.off('data', onData)
    }
    await roundTrip(a, b, 'channel')
  }, 120_000)

  it('into the client: bound channel and honest-or-short length only, exactly that many bytes (property)', async () => {
    const atA: Array<[string, number]> = []
    const onData = (d: Buffer, from: Endpoint) => atA.push([d.toString('hex'), from.port])
    a.on('data', onData)
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostile(aChannel), { minLength: 1, maxLength: 20 }),
          async (batch) => {
            atA.length = 0
            const before = a.stats.receivedChannelData
            for (const h of batch) proxy.toClient(channelData(h.channel, h.declared, h.payload))
            // A marker behind the batch (same socket, same order on loopback): when it is in,
            // the batch has been decoded.
            const marker = Buffer.from(`marker-${Math.random()}`)
            proxy.toClient(channelData(aChannel, marker.length, marker))
            await expect
              .poll(() => atA.some(([hex]) => hex === marker.toString('hex')), { timeout: 10_000 })
              .toBe(true)
            const got = atA.filter(([hex]) => hex !== marker.toString('hex'))
            const expected = batch.map(delivered).filter((x) => x !== undefined)
            expect(sorted(got.map(([hex]) => hex))).toEqual(sorted(expected))
            expect(got.every(([, port]) => port === b.relayed.port)).toBe(true)
            expect(a.stats.receivedChannelData - before).toBe(expected.length + 1)
          },
        ),
        { numRuns: 25 },
      )
    } finally {
      a.off('data', onData)
    }
    await roundTrip(a, b, 'channel')
  }, 120_000)

  it('arbitrary datagrams both ways (STUN-looking, ChannelData-looking, short): nothing breaks (property)', async () => {
    let lost = 0
    const onLost = () => lost++
    a.on('lost', onLost)
    b.on('lost', onLost)
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 1400 }),
            fc.uint8Array({ minLength: 1, maxLength: 3 }).map((u) => {
              u[0] = 0x40 | ((u[0] as number) & 0x3f)
              return u
            }),
            fc.uint8Array({ minLength: 20, maxLength: 200 }).map((u) => {
              u[0] = (u[0] as number) & 0x3f // STUN's first two bits are 00
              return u
            }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        async (batch) => {
          for (const d of batch) {
            proxy.toServer(d)
            proxy.toClient(d)
          }
          await new Promise((r) => setTimeout(r, 20))
        },
      ),
      { numRuns: 30 },
    )
    expect(lost).toBe(0)
    expect(bChannel).toBeGreaterThanOrEqual(0x4000)
    await roundTrip(a, b, 'channel')
  }, 120_000)
})
