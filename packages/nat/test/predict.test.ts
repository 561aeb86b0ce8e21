import { DeltaType, type NatInfo, NatType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { birthdayProbes, birthdaySuccess, predictPorts, sprayPlan } from '../src/index.js'

const observed = {
  local: { host: '10.0.0.2', port: 40000 },
  mapped: { host: '198.18.1.1', port: 50010 },
}
const nat = (
  type: NatType,
  delta: DeltaType = DeltaType.Random,
  value = 0,
  range?: [number, number],
): NatInfo => ({
  type,
  delta: { type: delta, value },
  ...(range ? { range } : {}),
})
const easy = nat(NatType.PortRestrictedCone, DeltaType.Equal)

describe('predictPorts', () => {
  it('open: the local port', () => {
    const p = predictPorts({
      ours: nat(NatType.OpenInternet, DeltaType.NotApplicable),
      theirs: easy,
      observed,
    })
    expect(p.candidates).toEqual([
      { rank: 0, localPort: 40000, reuseObserved: true, externalPort: 40000, probability: 1 },
    ])
  })

  it('EIM: reuse the observed socket and its mapping', () => {
    const p = predictPorts({
      ours: nat(NatType.FullCone, DeltaType.Random),
      theirs: easy,
      observed,
    })
    expect(p).toMatchObject({ model: 'reuse', feasible: true, probability: 1 })
    expect(p.candidates[0]).toMatchObject({
      localPort: 40000,
      reuseObserved: true,
      externalPort: 50010,
    })
  })

  it('sequential +1: the next mappings, each retry spending one', () => {
    const ours = nat(NatType.Symmetric, DeltaType.Independent, 1)
    const p = predictPorts({ ours, theirs: easy, observed, count: 3 })
    expect(p.model).toBe('sequential')
    expect(p.candidates.map((c) => c.externalPort)).toEqual([50011, 50012, 50013])
    expect(p.candidates.every((c) => c.localPort === 0 && !c.reuseObserved)).toBe(true)
    // Ranked: the nearest prediction is the likeliest.
    expect(p.candidates[0]!.probability).toBeGreaterThan(p.candidates[2]!.probability)
    const retry = predictPorts({ ours, theirs: easy, observed, count: 2, attempt: 2 })
    expect(retry.candidates.map((c) => c.externalPort)).toEqual([50013, 50014])
  })

  it('sequential with a negative step wraps inside the range', () => {
    const ours = nat(NatType.Symmetric, DeltaType.Independent, -4, [50000, 50063])
    const p = predictPorts({
      ours,
      theirs: easy,
      observed: { ...observed, mapped: { host: 'x', port: 50002 } },
      count: 2,
    })
    expect(p.candidates.map((c) => c.externalPort)).toEqual([50062, 50058])
  })

  it('preserving: signed offset (P2PD P1: predicted 61260 → 13073 for a NAT that maps it to 46927)', () => {
    const ours = nat(NatType.Symmetric, DeltaType.Preserving)
    const p = predictPorts({
      ours,
      theirs: easy,
      observed: { local: { host: 'l', port: 44333 }, mapped: { host: 'm', port: 30000 } },
      count: 3,
    })
    expect(p.candidates.map((c) => [c.localPort, c.externalPort])).toEqual([
      [44333, 30000],
      [44334, 30001],
      [44335, 30002],
    ])
  })

  it('dependent: bind local + j to get mapped + j·k', () => {
    const p = predictPorts({
      ours: nat(NatType.Symmetric, DeltaType.Dependent, 20),
      theirs: easy,
      observed,
      count: 2,
    })
    expect(p.candidates.map((c) => [c.localPort, c.externalPort])).toEqual([
      [40001, 50030],
      [40002, 50050],
    ])
  })

  it('equal symmetric: the local port', () => {
    const p = predictPorts({
      ours: nat(NatType.Symmetric, DeltaType.Equal),
      theirs: easy,
      observed,
    })
    expect(p.candidates[0]).toMatchObject({ externalPort: 40000, reuseObserved: true })
  })

  it('random symmetric vs easy peer: we are the hard side of a birthday spray', () => {
    const p = predictPorts({ ours: nat(NatType.Symmetric), theirs: easy, observed })
    expect(p).toMatchObject({ model: 'spray', feasible: true, candidates: [] })
    expect(p.spray).toMatchObject({ role: 'hard', sockets: 256 })
    expect(p.spray!.probability).toBeGreaterThan(0.98)
  })

  it('easy vs random peer: our candidates plus the easy side of the spray', () => {
    const p = predictPorts({
      ours: easy,
      theirs: nat(NatType.Symmetric, DeltaType.Random, 0, [35000, 65535]),
      observed,
    })
    expect(p.model).toBe('reuse')
    expect(p.spray).toMatchObject({ role: 'easy', range: [35000, 65535] })
  })

  it('both random: infeasible', () => {
    const p = predictPorts({
      ours: nat(NatType.Symmetric),
      theirs: nat(NatType.Symmetric),
      observed,
    })
    expect(p.feasible).toBe(false)
  })

  it('blocked: infeasible', () => {
    expect(predictPorts({ ours: nat(NatType.Blocked), theirs: easy, observed }).feasible).toBe(
      false,
    )
  })
})

describe('birthday arithmetic (P = 1 − (1 − n/R)^k)', () => {
  it('matches the published numbers for 256 sockets', () => {
    expect(birthdaySuccess(256, 174)).toBeCloseTo(0.5, 1)
    expect(birthdaySuccess(256, 1024)).toBeCloseTo(0.98, 2)
    expect(birthdaySuccess(256, 2048)).toBeGreaterThan(0.999)
    expect(birthdayProbes(256, 0.5)).toBeGreaterThanOrEqual(174)
    expect(birthdayProbes(256, 0.5)).toBeLessThanOrEqual(178)
  })
  it('a plan caps probes at the budget and reports its duration', () => {
    const p = sprayPlan('easy', [1024, 65535], { target: 0.9999, maxProbes: 500 })
    expect(p.probes).toBe(500)
    expect(p.durationMs).toBe(5000)
    expect(p.probability).toBeLessThan(0.9999)
  })
})
