import { DeltaType, NatType } from '@p2pd/interface'
import { birthdaySuccess } from '@p2pd/nat'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_RANDOM_RANGE,
  evenOffsets,
  parseOffer,
  probeDelay,
  randomPorts,
  SPRAY_LIMITS,
  sprayChoice,
  sprayDefaults,
} from '../src/index.js'

describe('spray budget', () => {
  it('defaults: sized for the mappings live against an RST cone, ≥ 99 % over 1024–65535 in < 2 s', () => {
    const c = sprayChoice(undefined)
    expect(c.range).toEqual(DEFAULT_RANDOM_RANGE)
    expect(c.sockets).toBe(sprayDefaults.sockets)
    // 4,000 SYN/s × a 20 ms round trip: 80 mappings live at once, not 256.
    expect(c.live).toBe(80)
    expect(c.socketsPerSecond).toBe(4_000)
    expect(c.probability).toBeGreaterThanOrEqual(0.99)
    expect(c.probability).toBeCloseTo(birthdaySuccess(c.live, c.probes, 64512), 9)
    expect(c.probes).toBeLessThanOrEqual(sprayDefaults.maxProbes)
    expect(c.probes).toBeGreaterThan(3_600) // ~3,712
    expect(c.probeMs).toBeLessThanOrEqual(1_900) // 2,000 probes/s
    expect(c.openMs).toBeLessThanOrEqual(130) // 4,000 SYN/s on the random side
    expect(c.feasible).toBe(true)
  })

  it('counts live mappings as the SYN rate × the round trip, at most the sockets', () => {
    // The old model (every socket live) is the long-path limit.
    expect(sprayChoice(undefined, { rstRoundTripMs: 1_000 }).live).toBe(256)
    expect(sprayChoice(undefined, { sockets: 512, rstRoundTripMs: 100 }).live).toBe(400)
    expect(sprayChoice(undefined, { rstRoundTripMs: 100 }).live).toBe(256)
    // A slower random side needs more probes for the same target.
    const slow = sprayChoice(undefined, { socketsPerSecond: 1_100 })
    expect(slow.live).toBe(22)
    expect(slow.probes).toBeGreaterThan(sprayChoice(undefined).probes)
    expect(slow.feasible).toBe(false) // 4,096 probes over 22 live: ~75 %
    // The random side's rate is capped whatever the configuration.
    expect(sprayChoice(undefined, { socketsPerSecond: 1e9 }).socketsPerSecond).toBe(
      SPRAY_LIMITS.socketsPerSecond,
    )
  })

  it('needs fewer probes on a narrower range (the NAT record says so)', () => {
    const linuxEphemeral = sprayChoice([32768, 60999])
    expect(linuxEphemeral.probes).toBeLessThan(1_700)
    expect(linuxEphemeral.probability).toBeGreaterThanOrEqual(0.99)
    // A range smaller than the socket count: every probe hits.
    const tiny = sprayChoice([40000, 40009])
    expect(tiny.probes).toBeLessThanOrEqual(10)
    expect(tiny.probability).toBe(1)
  })

  it('is bounded whatever the configuration, and says when the floor is out of reach', () => {
    const huge = sprayChoice(undefined, {
      sockets: 1e9,
      maxProbes: 1e9,
      probesPerSecond: 1e9,
      target: 0.999999,
    })
    expect(huge.sockets).toBe(SPRAY_LIMITS.sockets)
    expect(huge.probes).toBeLessThanOrEqual(SPRAY_LIMITS.probes)
    expect(huge.probeMs).toBeGreaterThanOrEqual((huge.probes / SPRAY_LIMITS.probesPerSecond) * 1000)
    const small = sprayChoice(undefined, { sockets: 16, maxProbes: 64 })
    expect(small.probability).toBeLessThan(0.1)
    expect(small.feasible).toBe(false)
    expect(sprayChoice(undefined, { sockets: 256, maxProbes: 1_024 }).feasible).toBe(false) // 72 %
  })

  it('draws distinct ports inside the range', () => {
    const ports = randomPorts([1024, 65535], 600)
    expect(new Set(ports).size).toBe(600)
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(1024)
    expect(Math.max(...ports)).toBeLessThanOrEqual(65535)
    expect(randomPorts([5000, 5003], 10).sort()).toEqual([5000, 5001, 5002, 5003])
    expect(randomPorts([5000, 5003], 0)).toEqual([])
  })

  it('paces the probes and starts them once the random mappings exist', () => {
    expect(evenOffsets(4, 400)).toEqual([0, 3, 5, 8])
    expect(evenOffsets(3, 1000, 56)).toEqual([56, 57, 58])
    // Random side opens for 96 ms; clocks may disagree by 10 ms; a probe travels 50 ms.
    expect(probeDelay(96, 10, 50)).toBe(56)
    expect(probeDelay(10, 0, 50)).toBe(0)
  })

  it('carries the NAT range in offers (optional) and rejects a bad one', () => {
    const offer = {
      v: 1,
      id: 'a'.repeat(32),
      address: 'x',
      mode: 'remote',
      mappings: [{ host: '198.18.0.1', port: 4000 }],
      candidatePorts: [],
      nat: { type: NatType.Symmetric, delta: { type: DeltaType.Random, value: 0 } },
      uncertaintyMs: 5,
      sentAt: 1_800_000_000_000,
      meetAt: 1_800_000_003_000,
    }
    expect(parseOffer(offer).nat.range).toBeUndefined()
    expect(parseOffer({ ...offer, nat: { ...offer.nat, range: [1024, 65535] } }).nat.range).toEqual(
      [1024, 65535],
    )
    for (const range of [[2000, 1000], [0, 10], [1], 'x'])
      expect(() => parseOffer({ ...offer, nat: { ...offer.nat, range } })).toThrow(
        /PUNCH_BAD_MESSAGE|bad punch message/,
      )
  })
})
