import { createSocket, type Socket } from 'node:dgram'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  findAttribute,
  longTermKey,
  newTransactionId,
  readAttributes,
  StunClass,
  StunMethod,
} from '@p2pd/stun'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { TurnClient, TurnServer, type TurnServerOptions } from '../src/index.js'
import { ByteAccount } from '../src/server/rate-limit.js'
import { StrangerGuard } from '../src/server/stranger-guard.js'

const users = { alice: 'wonderland', bob: 'builder' }
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {})
})

async function server(opts: Partial<TurnServerOptions> = {}): Promise<TurnServer> {
  const s = new TurnServer({ users, allowLoopbackPeers: true, ...opts })
  await s.start()
  cleanup.push(() => s.close())
  return s
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Logged {
  readonly at: number
  readonly bytes: number
}

/** A raw UDP source on a loopback address that logs every byte it sends and receives. */
class RawSource {
  readonly sent: Logged[] = []
  readonly replies: Array<Logged & { readonly msg: Buffer }> = []

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg) =>
      this.replies.push({ at: performance.now(), bytes: msg.length, msg }),
    )
  }

  static async open(address = '127.0.0.1'): Promise<RawSource> {
    const socket = createSocket('udp4')
    await new Promise<void>((r) => socket.bind(0, address, () => r()))
    const source = new RawSource(socket)
    cleanup.push(() => new Promise<void>((r) => socket.close(() => r())))
    return source
  }

  send(bytes: Buffer, to: Endpoint): void {
    this.sent.push({ at: performance.now(), bytes: bytes.length })
    this.socket.send(bytes, to.port, to.host)
  }

  bytesSent(): number {
    return this.sent.reduce((n, e) => n + e.bytes, 0)
  }

  bytesReceived(): number {
    return this.replies.reduce((n, e) => n + e.bytes, 0)
  }

  /** The replies to the request with this transaction id. */
  answered(tid: Uint8Array): boolean {
    return this.replies.some((r) => r.msg.subarray(8, 20).equals(Buffer.from(tid)))
  }
}

/** Largest (bytes received − bytes sent) over the 10 s windows ending at each reply. */
function worstWindowExcess(source: RawSource, windowMs = 10_000): number {
  let worst = Number.NEGATIVE_INFINITY
  for (const r of source.replies) {
    const inWindow = (e: Logged) => e.at > r.at - windowMs && e.at <= r.at
    const out = source.replies.filter(inWindow).reduce((n, e) => n + e.bytes, 0)
    const sentIn = source.sent.filter(inWindow).reduce((n, e) => n + e.bytes, 0)
    worst = Math.max(worst, out - sentIn)
  }
  return worst
}

/** An unsigned Allocate: 20 bytes bare, or padded with a SOFTWARE attribute. */
function unsignedAllocate(padding = 0): { bytes: Buffer; tid: Uint8Array } {
  const tid = newTransactionId()
  const attributes = padding > 0 ? [attr.software('p'.repeat(padding))] : []
  const m = createMessage({
    method: StunMethod.Allocate,
    cls: StunClass.Request,
    transactionId: tid,
    attributes,
  })
  return { bytes: encodeMessage(m, {}), tid }
}

function signedAllocate(
  user: string,
  password: string,
  realm: string,
  nonce: string,
): { bytes: Buffer; tid: Uint8Array } {
  const tid = newTransactionId()
  const m = createMessage({
    method: StunMethod.Allocate,
    cls: StunClass.Request,
    transactionId: tid,
    attributes: [
      attr.uint32(AttrType.RequestedTransport, 17 << 24),
      attr.username(user),
      attr.realm(realm),
      attr.nonce(nonce),
    ],
  })
  const key = longTermKey(user, realm, password, 'md5')
  return {
    bytes: encodeMessage(m, { integrity: { key, algorithm: 'sha1' }, fingerprint: true }),
    tid,
  }
}

/** Realm and nonce from a 401, asked for with a request big enough to pay for it. */
async function challenge(
  source: RawSource,
  s: TurnServer,
): Promise<{ realm: string; nonce: string }> {
  const req = unsignedAllocate(200)
  source.send(req.bytes, s.address)
  for (let i = 0; i < 50 && !source.answered(req.tid); i++) await sleep(10)
  const reply = source.replies.find((r) => r.msg.subarray(8, 20).equals(Buffer.from(req.tid)))
  if (!reply) throw new Error('no 401')
  const a = readAttributes(decodeMessage(reply.msg))
  return { realm: a.realm as string, nonce: a.nonce as string }
}

describe('TurnServer: no reflection amplification', () => {
  it('a bare Allocate gets no 401 until the source has sent as many bytes as the 401 has', async () => {
    const s = await server()
    const src = await RawSource.open()
    const first = unsignedAllocate()
    src.send(first.bytes, s.address)
    await sleep(150)
    expect(src.replies).toHaveLength(0)
    expect(s.stats.amplificationLimited).toBe(1)
    // Retransmissions add credit; the 401 goes out once it is paid for.
    for (let i = 0; i < 5 && src.replies.length === 0; i++) {
      src.send(first.bytes, s.address)
      await sleep(50)
    }
    expect(src.replies).toHaveLength(1)
    const reply = decodeMessage(src.replies[0]?.msg as Buffer)
    expect(readAttributes(reply).errorCode?.code).toBe(401)
    expect(src.bytesReceived()).toBeLessThanOrEqual(src.bytesSent())
    // A small 401: no SOFTWARE, no FINGERPRINT.
    expect(src.bytesReceived()).toBeLessThanOrEqual(80)
  })

  it.each([
    ['without SOFTWARE', {}],
    ['with SOFTWARE and a long realm', { software: 'x'.repeat(120), realm: 'r'.repeat(160) }],
  ])('flood of bare Allocates (%s): bytes out ≤ bytes in, every 10 s window', async (_, extra) => {
    const s = await server({
      ...extra,
      // The rate budget out of the way: this test is about bytes.
      limits: { unauthenticated: { perSecond: 10_000, burst: 10_000 } },
    })
    const src = await RawSource.open()
    for (let i = 0; i < 150; i++) {
      src.send(unsignedAllocate().bytes, s.address)
      if (i % 10 === 9) await sleep(5)
    }
    await sleep(200)
    const out = src.bytesReceived()
    const inBytes = src.bytesSent()
    expect(src.replies.length).toBeGreaterThan(0)
    expect(out).toBeLessThanOrEqual(inBytes)
    expect(worstWindowExcess(src)).toBeLessThanOrEqual(0)
    expect(s.stats.amplificationLimited).toBeGreaterThan(0)
    for (const r of src.replies) {
      expect(findAttribute(decodeMessage(r.msg), AttrType.Software)).toBeUndefined()
    }
    console.log(
      `bare-Allocate flood (${_}): ${src.sent.length} sent (${inBytes} B), ` +
        `${src.replies.length} replies (${out} B), ratio ${(out / inBytes).toFixed(2)}`,
    )
  })

  it('SOFTWARE still goes out on authenticated replies', async () => {
    const s = await server({ software: 'p2pd-test' })
    const src = await RawSource.open()
    const { realm, nonce } = await challenge(src, s)
    expect(
      findAttribute(decodeMessage(src.replies[0]?.msg as Buffer), AttrType.Software),
    ).toBeUndefined()
    const ok = signedAllocate('alice', 'wonderland', realm, nonce)
    src.send(ok.bytes, s.address)
    for (let i = 0; i < 50 && !src.answered(ok.tid); i++) await sleep(10)
    const res = decodeMessage(src.replies.at(-1)?.msg as Buffer)
    expect(res.cls).toBe(StunClass.SuccessResponse)
    expect(readAttributes(res).software).toBe('p2pd-test')
    expect(s.allocationCount).toBe(1)
  })
})

describe('TurnServer: per-source budgets', () => {
  it('unauthenticated requests over the budget are dropped silently', async () => {
    const s = await server({ limits: { unauthenticated: { perSecond: 10, burst: 20 } } })
    const src = await RawSource.open()
    for (let i = 0; i < 500; i++) src.send(unsignedAllocate(200).bytes, s.address)
    await sleep(200)
    expect(src.replies.length).toBeGreaterThanOrEqual(20)
    expect(src.replies.length).toBeLessThanOrEqual(25)
    expect(s.stats.droppedUnauthenticated).toBe(500 - src.replies.length)
  })

  it('wrong passwords: 5 answered, then silence (default limits, 200 attempts)', async () => {
    const s = await server()
    const src = await RawSource.open()
    const { realm, nonce } = await challenge(src, s)
    const t0 = performance.now()
    for (let i = 0; i < 200; i++)
      src.send(signedAllocate('alice', 'guess', realm, nonce).bytes, s.address)
    await sleep(300)
    const answered = src.replies.length - 1
    console.log(
      `200 wrong passwords in ${Math.round(performance.now() - t0 - 300)} ms: ${answered} replies`,
    )
    expect(answered).toBe(5)
    expect(s.stats.authFailures).toBe(5)
    expect(s.stats.throttledFailedAuth).toBe(195)
  })

  it('back-off per (user, source) grows; other users from that source are not blocked', async () => {
    const s = await server({
      limits: {
        authFailuresBeforeBackoff: 3,
        backoffMs: 300,
        failedAuth: { perSecond: 1000, burst: 1000 },
      },
    })
    const src = await RawSource.open('127.0.0.2')
    const { realm, nonce } = await challenge(src, s)
    const before = src.replies.length
    for (let i = 0; i < 20; i++)
      src.send(signedAllocate('alice', 'guess', realm, nonce).bytes, s.address)
    await sleep(100)
    expect(src.replies.length - before).toBe(3)
    // Even the right password is not checked for alice from here during the back-off…
    const right = signedAllocate('alice', 'wonderland', realm, nonce)
    src.send(right.bytes, s.address)
    // …while bob, from the same address, allocates.
    const bob = await TurnClient.allocate(
      { ...s.address, username: 'bob', password: 'builder' },
      { timeoutMs: 2000, rtoMs: 100, localAddress: '127.0.0.2' },
    )
    cleanup.push(() => bob.close())
    expect(src.answered(right.tid)).toBe(false)
    // Probe every 25 ms: the answered attempts are the back-off's ends, further apart each time.
    const t0 = performance.now()
    const answeredAt: number[] = []
    while (performance.now() - t0 < 2600) {
      const probe = signedAllocate('alice', 'guess', realm, nonce)
      src.send(probe.bytes, s.address)
      await sleep(25)
      if (src.answered(probe.tid)) answeredAt.push(performance.now() - t0)
    }
    const gaps = answeredAt.slice(1).map((t, i) => t - (answeredAt[i] as number))
    console.log(`back-off: answered at ${answeredAt.map(Math.round).join(', ')} ms`)
    expect(answeredAt.length).toBeGreaterThanOrEqual(3)
    expect(gaps[0]).toBeGreaterThanOrEqual(550)
    expect(gaps[1]).toBeGreaterThanOrEqual(1.6 * (gaps[0] as number))
  })

  it('a legitimate client allocates while another source floods', async () => {
    const s = await server()
    const flooder = await RawSource.open('127.0.0.2')
    const { realm, nonce } = await challenge(flooder, s)
    let flooding = true
    const flood = (async () => {
      while (flooding) {
        for (let i = 0; i < 40; i++) flooder.send(unsignedAllocate().bytes, s.address)
        for (let i = 0; i < 10; i++)
          flooder.send(signedAllocate('alice', 'x', realm, nonce).bytes, s.address)
        await sleep(5)
      }
    })()
    try {
      await sleep(200)
      const t0 = performance.now()
      const c = await TurnClient.allocate(
        { ...s.address, username: 'alice', password: 'wonderland' },
        { timeoutMs: 4000, localAddress: '127.0.0.1' },
      )
      cleanup.push(() => c.close())
      const firstMs = performance.now() - t0
      // Its address now holds an allocation: the next Allocate's 401 is not held back.
      const t1 = performance.now()
      const d = await TurnClient.allocate(
        { ...s.address, username: 'alice', password: 'wonderland' },
        { timeoutMs: 4000, localAddress: '127.0.0.1' },
      )
      cleanup.push(() => d.close())
      const secondMs = performance.now() - t1
      console.log(
        `allocate during flood: ${Math.round(firstMs)} ms (first from its IP), ` +
          `${Math.round(secondMs)} ms (next); flooder: ${flooder.sent.length} sent, ` +
          `${flooder.replies.length} replies`,
      )
      expect(firstMs).toBeLessThan(1500)
      expect(secondMs).toBeLessThan(300)
    } finally {
      flooding = false
      await flood
    }
    expect(s.stats.droppedUnauthenticated).toBeGreaterThan(500)
    expect(s.stats.throttledFailedAuth).toBeGreaterThan(100)
    expect(flooder.bytesReceived()).toBeLessThanOrEqual(flooder.bytesSent())
  })
})

describe('stranger state is bounded', () => {
  it('tracks at most maxTrackedSources sources, and forgets idle ones', () => {
    let now = 0
    const guard = new StrangerGuard({ maxTrackedSources: 100 }, () => now)
    for (let i = 0; i < 10_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
      guard.received(ip, 20)
      guard.takeUnauthenticated(ip)
      guard.authFailed(ip, `user${i}`)
    }
    expect(guard.trackedSources).toBe(100)
    expect(guard.trackedBackoffs).toBe(100)
    now += 15_000
    guard.sweep()
    expect(guard.trackedSources).toBe(0)
    now += 600_001
    guard.sweep()
    expect(guard.trackedBackoffs).toBe(0)
  })

  it('byte account: sent ≤ received in every 10 s window ending at a send (property)', () => {
    const event = fc.record({
      dt: fc.integer({ min: 0, max: 2500 }),
      receive: fc.boolean(),
      bytes: fc.integer({ min: 1, max: 600 }),
    })
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 200 }), (events) => {
        let now = 1_000_000
        const account = new ByteAccount(now)
        const log: Array<{ at: number; n: number; sent: boolean }> = []
        for (const e of events) {
          now += e.dt
          if (e.receive) {
            account.received(e.bytes, now)
            log.push({ at: now, n: e.bytes, sent: false })
          } else if (account.trySend(e.bytes, 1, now)) {
            log.push({ at: now, n: e.bytes, sent: true })
            const win = log.filter((x) => x.at > now - 10_000)
            const out = win.filter((x) => x.sent).reduce((n, x) => n + x.n, 0)
            const got = win.filter((x) => !x.sent).reduce((n, x) => n + x.n, 0)
            expect(out).toBeLessThanOrEqual(got)
          }
        }
      }),
      { numRuns: 500 },
    )
  })
})
