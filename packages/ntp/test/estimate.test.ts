import { describe, expect, it } from 'vitest'
import type { NtpSample } from '../src/client.js'
import { NtpError } from '../src/errors.js'
import { combineSamples } from '../src/estimate.js'

function sample(server: string, offset: number, delay: number): NtpSample {
  return {
    server,
    address: '127.0.0.1',
    port: 123,
    localError: 0,
    offset,
    delay,
    stratum: 2,
    leap: 0,
    refId: 'LOCL',
    rootDelay: 0,
    rootDispersion: 0,
    precision: 0.001,
    t0: 0,
    t1: 0,
    t2: 0,
    t3: 0,
  }
}

describe('combineSamples', () => {
  it('trusts the lowest-delay sample of a server', () => {
    const r = combineSamples([sample('a', 130, 80), sample('a', 100, 2), sample('a', 90, 40)])
    expect(r.offset).toBeCloseTo(100, 6)
    expect(r.servers[0]).toMatchObject({ server: 'a', delay: 2, samples: 3, truechimer: true })
    // Never below half the best delay.
    expect(r.uncertainty).toBeGreaterThanOrEqual(1)
  })

  it('outvotes a falseticker and takes the median of the rest', () => {
    const r = combineSamples([
      sample('a', 1000, 4),
      sample('b', 1001, 4),
      sample('c', 1002, 4),
      sample('liar', 5000, 4),
    ])
    expect(r.servers.find((s) => s.server === 'liar')?.truechimer).toBe(false)
    expect(r.offset).toBeGreaterThanOrEqual(1000)
    expect(r.offset).toBeLessThanOrEqual(1002)
    expect(r.uncertainty).toBeGreaterThanOrEqual(2) // half the delay at least
    expect(r.uncertainty).toBeLessThan(6)
  })

  it('widens the bound when servers disagree within their intervals', () => {
    const tight = combineSamples([sample('a', 0, 20), sample('b', 0, 20)])
    const loose = combineSamples([sample('a', -8, 20), sample('b', 8, 20)])
    expect(loose.uncertainty).toBeGreaterThan(tight.uncertainty)
    // Sound: whatever the truth within both intervals, it is within the bound.
    for (const truth of [-2, 0, 2])
      expect(Math.abs(loose.offset - truth)).toBeLessThanOrEqual(loose.uncertainty)
  })

  it('refuses to pick a side without a majority', () => {
    expect(() => combineSamples([sample('a', 0, 2), sample('b', 500, 2)])).toThrow(
      expect.objectContaining({ code: 'NTP_NO_MAJORITY' }),
    )
    expect(() => combineSamples([])).toThrow(NtpError)
  })
})
