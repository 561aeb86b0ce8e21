import { DeltaType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { classifyDelta, type DeltaSample, deltaPortPlan } from '../src/index.js'

const pairs = (xs: [number, number][]): DeltaSample[] =>
  xs.map(([local, mapped]) => ({ local, mapped }))

describe('classifyDelta', () => {
  it('equal: mapped == local', () => {
    const v = classifyDelta(
      pairs([
        [40000, 40000],
        [40001, 40001],
        [51000, 51000],
        [51001, 51001],
      ]),
    )
    expect(v).toMatchObject({ type: DeltaType.Equal, value: 0, model: 'equal' })
  })

  it('preserving: a constant signed offset, also across jumps', () => {
    const v = classifyDelta(
      pairs([
        [40000, 30000],
        [40001, 30001],
        [52000, 42000],
        [52001, 42001],
        [33000, 23000],
      ]),
    )
    expect(v).toMatchObject({ type: DeltaType.Preserving, offset: -10000 })
  })

  it('independent +1 (the lab sequential NAT) across local jumps', () => {
    const v = classifyDelta(
      pairs([
        [40000, 50000],
        [40001, 50001],
        [40002, 50002],
        [55000, 50003],
        [55001, 50004],
        [34000, 50005],
      ]),
    )
    expect(v).toMatchObject({ type: DeltaType.Independent, value: 1 })
    expect(v.confidence).toBeGreaterThan(0.9)
  })

  it('independent keeps the sign (P2PD lost it, D1)', () => {
    const v = classifyDelta(
      pairs([
        [5000, 50050],
        [23412, 50040],
        [55421, 50030],
        [6322, 50020],
        [5622, 50010],
      ]),
    )
    expect(v).toMatchObject({ type: DeltaType.Independent, value: -10 })
  })

  it('P2PD test vectors', () => {
    expect(
      classifyDelta(
        pairs([
          [4560, 50000],
          [4561, 50020],
          [4562, 50040],
          [4563, 50060],
          [9000, 1234],
          [9001, 1254],
          [9002, 1274],
        ]),
      ),
    ).toMatchObject({ type: DeltaType.Dependent, value: 20 })
    expect(
      classifyDelta(
        pairs([
          [5000, 50000],
          [23412, 50010],
          [55421, 50020],
          [6322, 50030],
          [5622, 50040],
          [45610, 50050],
        ]),
      ),
    ).toMatchObject({ type: DeltaType.Independent, value: 10 })
    expect(
      classifyDelta(
        pairs([
          [4560, 4443],
          [4561, 50001],
          [4562, 63813],
          [4563, 64000],
          [4564, 2000],
          [4565, 6004],
        ]),
      ),
    ).toMatchObject({ type: DeltaType.Random })
  })

  it('a sequential NAT seen wrapping shows its allocation range', () => {
    const v = classifyDelta(
      pairs([
        [40000, 50061],
        [40001, 50062],
        [40002, 50063],
        [51000, 50000],
        [51001, 50001],
        [33000, 50002],
      ]),
    )
    expect(v).toMatchObject({ type: DeltaType.Independent, value: 1, range: [50000, 50063] })
  })

  it('lost samples only break their pairs (D4)', () => {
    const v = classifyDelta([
      { local: 1, mapped: 100 },
      undefined,
      { local: 3, mapped: 102 },
      { local: 9000, mapped: 103 },
      { local: 9001, mapped: 104 },
      { local: 500, mapped: 105 },
    ])
    expect(v).toMatchObject({ type: DeltaType.Independent, value: 1, samples: 5, pairs: 3 })
  })

  it('too few samples: random with zero confidence', () => {
    expect(classifyDelta([{ local: 1, mapped: 2 }])).toMatchObject({
      type: DeltaType.Random,
      confidence: 0,
    })
  })
})

describe('deltaPortPlan', () => {
  it('runs of consecutive ports inside the range, far apart', () => {
    const plan = deltaPortPlan(9, 3, [32768, 60999])
    expect(plan).toHaveLength(9)
    for (let r = 0; r < 3; r++) {
      const [a, b, c] = plan.slice(r * 3, r * 3 + 3) as [number, number, number]
      expect([b - a, c - b]).toEqual([1, 1])
    }
    for (const p of plan) expect(p >= 32768 && p <= 60999).toBe(true)
    expect(new Set(plan).size).toBe(9)
  })
})
