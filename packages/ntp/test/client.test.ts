import { createSocket } from 'node:dgram'
import { AbortError, TimeoutError } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { querySntp } from '../src/client.js'
import { KissOfDeathError, NtpError } from '../src/errors.js'
import { encodePacket, refIdFromString } from '../src/packet.js'
import { SntpServer } from '../src/server.js'
import { type FakeReply, honestReply, startFakeResponder } from './helpers/fake-responder.js'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c()
})

async function server(opts: ConstructorParameters<typeof SntpServer>[0]) {
  const s = new SntpServer(opts)
  const addr = await s.start()
  cleanup.push(() => s.close())
  return { s, addr }
}

async function fake(craft: Parameters<typeof startFakeResponder>[0]) {
  const f = await startFakeResponder(craft)
  cleanup.push(() => f.close())
  return f
}

async function rejection(p: Promise<unknown>): Promise<NtpError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(NtpError)
  return err as NtpError
}

// On loopback the only error of θ is path asymmetry (including event-loop latency on either
// side), which is bounded by half the round trip δ; client and server share one local clock,
// so 1 ms covers timestamp resolution and timer jitter.
const MARGIN_MS = 1

describe('querySntp against our SntpServer', () => {
  it.each([
    [1500, 0],
    [-800, 0],
    [1500, 50],
    [-800, 50],
  ])('measures an injected offset of %i ms (wire delay %i ms)', async (offsetMs, wireDelayMs) => {
    const { addr } = await server({ offsetMs, wireDelayMs })
    const sample = await querySntp(addr, { timeoutMs: 1000 })
    const err = sample.offset - offsetMs
    expect(Math.abs(err)).toBeLessThanOrEqual(sample.delay / 2 + MARGIN_MS)
    expect(sample.delay).toBeGreaterThanOrEqual(wireDelayMs - 1)
    // A return-path-only delay shifts θ by −delay/2: the bound is tight, not just loose.
    if (wireDelayMs) expect(err).toBeLessThan(-wireDelayMs / 2 + 5)
    expect(sample).toMatchObject({
      stratum: 2,
      refId: 'LOCL',
      address: '127.0.0.1',
      port: addr.port,
    })
  })

  it('does not count honest processing time as delay or offset', async () => {
    const { addr } = await server({ offsetMs: 300, processingDelayMs: 40 })
    const sample = await querySntp(addr)
    expect(sample.t2 - sample.t1).toBeGreaterThanOrEqual(39)
    expect(sample.delay).toBeLessThan(10)
    expect(Math.abs(sample.offset - 300)).toBeLessThanOrEqual(sample.delay / 2 + MARGIN_MS)
  })

  it('works over IPv6 and with host:port strings', async () => {
    const { addr } = await server({ host: '::1', offsetMs: 42 })
    const sample = await querySntp(`[::1]:${addr.port}`)
    expect(Math.abs(sample.offset - 42)).toBeLessThanOrEqual(sample.delay / 2 + MARGIN_MS)
    expect(sample.address).toBe('::1')
  })

  it("raises Kiss-o'-Death as a typed error", async () => {
    const { addr } = await server({ kissCode: 'RATE' })
    const err = await rejection(querySntp(addr))
    expect(err).toBeInstanceOf(KissOfDeathError)
    expect((err as KissOfDeathError).kissCode).toBe('RATE')
  })
})

describe('querySntp rejects bad replies', () => {
  it.each<[string, (r: Parameters<typeof honestReply>[0]) => FakeReply]>([
    ['NTP_UNSYNCHRONIZED', (r) => ({ bytes: honestReply(r, { leap: 3 }) })],
    ['NTP_BAD_STRATUM', (r) => ({ bytes: honestReply(r, { stratum: 16 }) })],
    [
      'NTP_ZERO_TRANSMIT',
      (r) => ({ bytes: honestReply(r, { transmitTimestamp: { seconds: 0, fraction: 0 } }) }),
    ],
    [
      'NTP_KISS_OF_DEATH',
      (r) => ({ bytes: honestReply(r, { stratum: 0, refId: refIdFromString('DENY') }) }),
    ],
  ])('fails at once with %s', async (code, craft) => {
    const f = await fake((r) => [craft(r)])
    const started = Date.now()
    const err = await rejection(querySntp({ host: '127.0.0.1', port: f.port }, { timeoutMs: 2000 }))
    expect(err.code).toBe(code)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it.each<[string, (r: Parameters<typeof honestReply>[0]) => FakeReply]>([
    [
      'NTP_ORIGIN_MISMATCH',
      (r) => ({
        bytes: honestReply(r, {
          originTimestamp: { ...r.transmitTimestamp, fraction: r.transmitTimestamp.fraction ^ 1 },
        }),
      }),
    ],
    ['NTP_BAD_MODE', (r) => ({ bytes: honestReply(r, { mode: 3 }) })],
    ['NTP_MALFORMED', (r) => ({ bytes: honestReply(r).subarray(0, 40) })],
    ['NTP_SOURCE_MISMATCH', (r) => ({ bytes: honestReply(r), fromOtherPort: true })],
  ])('drops %s replies and keeps waiting', async (code, craft) => {
    const f = await fake((r) => [craft(r)])
    const err = await rejection(querySntp({ host: '127.0.0.1', port: f.port }, { timeoutMs: 300 }))
    expect(err.code).toBe('NTP_NO_VALID_REPLY')
    expect((err.cause as NtpError).code).toBe(code)
  })

  it('takes the genuine reply that follows a spoofed one', async () => {
    const f = await fake((r) => [
      { bytes: honestReply(r, { originTimestamp: { seconds: 1, fraction: 2 } }) },
      { bytes: honestReply(r), fromOtherPort: true },
      { bytes: honestReply(r) },
    ])
    const sample = await querySntp({ host: '127.0.0.1', port: f.port })
    expect(Math.abs(sample.offset)).toBeLessThanOrEqual(sample.delay / 2 + MARGIN_MS)
  })

  it('survives a flood of garbage', async () => {
    const f = await fake(() =>
      Array.from({ length: 200 }, (_, i) => ({ bytes: encodePacket({ mode: i % 8 }) })),
    )
    const err = await rejection(querySntp({ host: '127.0.0.1', port: f.port }, { timeoutMs: 300 }))
    expect(err.code).toBe('NTP_NO_VALID_REPLY')
  })
})

describe('querySntp deadlines', () => {
  async function silentPort(): Promise<number> {
    const s = createSocket('udp4')
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise((r) => s.close(() => r())))
    return s.address().port
  }

  it('times out with TimeoutError when nobody answers', async () => {
    const port = await silentPort()
    const started = Date.now()
    await expect(querySntp({ host: '127.0.0.1', port }, { timeoutMs: 200 })).rejects.toBeInstanceOf(
      TimeoutError,
    )
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('aborts with AbortError through the signal', async () => {
    const port = await silentPort()
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    await expect(
      querySntp({ host: '127.0.0.1', port }, { signal: ac.signal, timeoutMs: 5000 }),
    ).rejects.toBeInstanceOf(AbortError)
    await expect(
      querySntp({ host: '127.0.0.1', port }, { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortError)
  })

  it('rejects bad server specs', async () => {
    for (const bad of ['', 'a b', '127.0.0.1:0', '127.0.0.1:70000', 'host:port', '[::1]:x']) {
      expect((await rejection(querySntp(bad))).code).toBe('NTP_BAD_SERVER')
    }
  })
})
