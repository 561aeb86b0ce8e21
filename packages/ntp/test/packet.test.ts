import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KissOfDeathError, NtpError } from '../src/errors.js'
import { decodePacket, encodePacket, refIdFromString, refIdToString } from '../src/packet.js'
import { parseReply } from '../src/reply.js'
import { msToNtp } from '../src/timestamp.js'

const T0 = Date.UTC(2026, 5, 1)
const origin = { seconds: 0x12345678, fraction: 0x9abcdef0 }

function reply(patch: Parameters<typeof encodePacket>[0] = {}): Uint8Array {
  return encodePacket({
    version: 4,
    mode: 4,
    stratum: 2,
    originTimestamp: origin,
    receiveTimestamp: msToNtp(T0 + 1010),
    transmitTimestamp: msToNtp(T0 + 1011),
    ...patch,
  })
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(NtpError)
    return (err as NtpError).code
  }
  return undefined
}

describe('packet codec', () => {
  it('encodes and decodes every header field', () => {
    const p = decodePacket(
      encodePacket({
        leap: 1,
        version: 3,
        mode: 4,
        stratum: 7,
        poll: 6,
        precision: -20,
        rootDelay: 12.5,
        rootDispersion: 3.25,
        refId: refIdFromString('GPS'),
        originTimestamp: origin,
      }),
    )
    expect(p).toMatchObject({ leap: 1, version: 3, mode: 4, stratum: 7, poll: 6, precision: -20 })
    expect(p.rootDelay).toBeCloseTo(12.5, 1)
    expect(p.rootDispersion).toBeCloseTo(3.25, 1)
    expect(refIdToString(p.refId)).toBe('GPS')
    expect(p.originTimestamp).toEqual(origin)
    expect(refIdToString(new Uint8Array([0x52, 0x01, 0, 0]))).toBe('R\\x01')
  })

  it('computes offset and delay from the four timestamps', () => {
    // Server 1000 ms ahead, 10 ms each way, 1 ms processing.
    const m = parseReply(reply(), { origin, t0: T0, t3: T0 + 21 })
    expect(m.offset).toBeCloseTo(1000, 3)
    expect(m.delay).toBeCloseTo(20, 3)
    expect(m.stratum).toBe(2)
  })

  it.each([
    ['NTP_MALFORMED', reply().subarray(0, 47)],
    ['NTP_BAD_MODE', reply({ mode: 3 })],
    ['NTP_BAD_MODE', reply({ mode: 5 })],
    ['NTP_BAD_VERSION', reply({ version: 0 })],
    ['NTP_BAD_VERSION', reply({ version: 5 })],
    ['NTP_ORIGIN_MISMATCH', reply({ originTimestamp: { ...origin, fraction: 1 } })],
    ['NTP_KISS_OF_DEATH', reply({ stratum: 0, leap: 3, refId: refIdFromString('RATE') })],
    ['NTP_UNSYNCHRONIZED', reply({ leap: 3 })],
    ['NTP_BAD_STRATUM', reply({ stratum: 16 })],
    ['NTP_ZERO_TRANSMIT', reply({ transmitTimestamp: { seconds: 0, fraction: 0 } })],
    ['NTP_BAD_TIMESTAMP', reply({ receiveTimestamp: { seconds: 0, fraction: 0 } })],
    ['NTP_BAD_TIMESTAMP', reply({ transmitTimestamp: msToNtp(T0 + 900) })],
    ['NTP_BAD_ROOT', reply({ rootDispersion: 16_000 })],
  ])('rejects %s', (code, bytes) => {
    expect(codeOf(() => parseReply(bytes, { origin, t0: T0, t3: T0 + 21 }))).toBe(code)
  })

  it("names the kiss code of a Kiss-o'-Death", () => {
    const bytes = reply({ stratum: 0, refId: refIdFromString('DENY') })
    expect(() => parseReply(bytes, { origin, t0: T0, t3: T0 + 1 })).toThrow(KissOfDeathError)
    try {
      parseReply(bytes, { origin, t0: T0, t3: T0 + 1 })
    } catch (err) {
      expect((err as KissOfDeathError).kissCode).toBe('DENY')
    }
  })

  it('random bytes give a typed error or a sane sample, never a crash', () => {
    const ctx = fc.record({
      t0: fc.double({ min: 0, max: 4e12, noNaN: true }),
      rtt: fc.double({ min: 0, max: 10_000, noNaN: true }),
    })
    const check = (bytes: Uint8Array, t0: number, rtt: number, o: typeof origin) => {
      try {
        const m = parseReply(bytes, { origin: o, t0, t3: t0 + rtt })
        expect(Number.isFinite(m.offset)).toBe(true)
        expect(m.delay).toBeGreaterThanOrEqual(0)
        expect(m.stratum).toBeGreaterThanOrEqual(1)
        expect(m.stratum).toBeLessThanOrEqual(15)
        expect(m.leap).not.toBe(3)
      } catch (err) {
        expect(err).toBeInstanceOf(NtpError)
      }
    }
    // Pure noise (mostly shallow rejections)…
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), ctx, (bytes, { t0, rtt }) =>
        check(bytes, t0, rtt, origin),
      ),
      { numRuns: 3000 },
    )
    // …and noise that passes the mode and origin checks, to reach the deeper ones.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 48, maxLength: 64 }), ctx, (bytes, { t0, rtt }) => {
        const b = Uint8Array.from(bytes)
        b[0] = ((b[0] as number) & 0xc0) | (4 << 3) | 4
        const view = new DataView(b.buffer)
        const o = { seconds: view.getUint32(24), fraction: view.getUint32(28) }
        check(b, t0, rtt, o)
      }),
      { numRuns: 3000 },
    )
  })
})
