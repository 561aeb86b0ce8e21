import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  isZeroTimestamp,
  msToNtp,
  NTP_ERA_MS,
  NTP_UNIX_OFFSET_MS,
  ntpToMs,
  readTimestamp,
  writeTimestamp,
} from '../src/timestamp.js'

const ERA1_START = NTP_ERA_MS - NTP_UNIX_OFFSET_MS // 2036-02-07T06:28:16Z in Unix ms

describe('NTP timestamps', () => {
  it('knows the epochs', () => {
    expect(new Date(ERA1_START).toISOString()).toBe('2036-02-07T06:28:16.000Z')
    expect(msToNtp(0)).toEqual({ seconds: 2_208_988_800, fraction: 0 })
    expect(msToNtp(1500)).toEqual({ seconds: 2_208_988_801, fraction: 2 ** 31 })
  })

  it('crosses the 2036 era boundary', () => {
    expect(msToNtp(ERA1_START)).toEqual({ seconds: 0, fraction: 0 })
    expect(msToNtp(ERA1_START - 1000)).toEqual({ seconds: 2 ** 32 - 1, fraction: 0 })
    expect(msToNtp(ERA1_START + 250)).toEqual({ seconds: 0, fraction: 2 ** 30 })
    // Decoded next to a pivot in the right era, whichever side of the boundary it is on.
    expect(ntpToMs({ seconds: 5, fraction: 0 }, ERA1_START - 10_000)).toBe(ERA1_START + 5000)
    expect(ntpToMs({ seconds: 2 ** 32 - 5, fraction: 0 }, ERA1_START + 10_000)).toBe(
      ERA1_START - 5000,
    )
    // A timestamp from 2040 read today still lands in 2040 (within 68 years of the pivot).
    const y2040 = Date.UTC(2040, 0, 1)
    expect(ntpToMs(msToNtp(y2040), Date.UTC(2026, 0, 1))).toBe(y2040)
  })

  it('round-trips any time within 68 years of the pivot, to 1 µs', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -2e12, max: 5e12, noNaN: true }),
        fc.double({ min: -2e12, max: 2e12, noNaN: true }),
        (ms, skew) => {
          const pivot = ms + skew // ±63 years
          const ts = msToNtp(ms)
          expect(ts.seconds).toBeGreaterThanOrEqual(0)
          expect(ts.seconds).toBeLessThan(2 ** 32)
          expect(ts.fraction).toBeGreaterThanOrEqual(0)
          expect(ts.fraction).toBeLessThan(2 ** 32)
          expect(Math.abs(ntpToMs(ts, pivot) - ms)).toBeLessThan(0.001)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('round-trips the 64-bit wire form', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        (seconds, fraction) => {
          const b = new Uint8Array(12)
          writeTimestamp(b, 3, { seconds, fraction })
          expect(readTimestamp(b, 3)).toEqual({ seconds, fraction })
        },
      ),
    )
    expect(isZeroTimestamp({ seconds: 0, fraction: 0 })).toBe(true)
    expect(isZeroTimestamp({ seconds: 0, fraction: 1 })).toBe(false)
    expect(() => msToNtp(Number.NaN)).toThrow(RangeError)
  })
})
