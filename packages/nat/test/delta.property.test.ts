import { DeltaType } from '@p2pd/interface'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { classifyDelta, type DeltaSample, deltaPortPlan } from '../src/index.js'

// Generated NATs, sampled with the same local-port plan the sampler uses (9 samples: three
// runs of three consecutive ports), must classify as the model that generated them.
const plan = fc
  .array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 16, maxLength: 16 })
  .map((seeds) => {
    let i = 0
    return deltaPortPlan(
      9,
      3,
      [32768, 60999],
      (lo, hi) => lo + ((seeds[i++ % seeds.length] as number) % (hi - lo)),
    )
  })

const sample = (locals: number[], f: (local: number, i: number, prev?: DeltaSample) => number) => {
  const out: DeltaSample[] = []
  for (const [i, local] of locals.entries()) out.push({ local, mapped: f(local, i, out[i - 1]) })
  return out
}

describe('classifyDelta properties', () => {
  it('equal NATs are equal', () => {
    fc.assert(
      fc.property(plan, (locals) => {
        expect(classifyDelta(sample(locals, (l) => l)).type).toBe(DeltaType.Equal)
      }),
    )
  })

  it('preserving NATs are preserving with their signed offset', () => {
    fc.assert(
      fc.property(
        plan,
        fc.integer({ min: -30000, max: 4000 }).filter((c) => c !== 0),
        (locals, c) => {
          const v = classifyDelta(sample(locals, (l) => l + c))
          expect(v.type).toBe(DeltaType.Preserving)
          expect(v.offset).toBe(c)
        },
      ),
    )
  })

  it('sequential NATs are independent with their signed step', () => {
    fc.assert(
      fc.property(
        plan,
        fc.integer({ min: -200, max: 200 }).filter((k) => k !== 0),
        fc.integer({ min: 10000, max: 50000 }),
        (locals, k, start) => {
          const v = classifyDelta(sample(locals, (_l, i) => start + k * i))
          expect(v).toMatchObject({ type: DeltaType.Independent, value: k })
          expect(v.confidence).toBeGreaterThan(0.9)
        },
      ),
    )
  })

  it('sequential NATs with one foreign allocation stay independent', () => {
    fc.assert(
      fc.property(
        plan,
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        (locals, k, skipAt) => {
          const v = classifyDelta(
            sample(locals, (_l, i) => 40000 + k * (i + (i >= skipAt ? 1 : 0))),
          )
          expect(v).toMatchObject({ type: DeltaType.Independent, value: k })
        },
      ),
    )
  })

  it('sequential NATs stay independent when others allocate between two samples', () => {
    fc.assert(
      fc.property(
        plan,
        fc.integer({ min: -50, max: 50 }).filter((k) => k !== 0),
        fc.integer({ min: 20000, max: 40000 }),
        // Two of the eight gaps see one or two foreign allocations.
        fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 2 }),
        fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 2, maxLength: 2 }),
        (locals, k, start, gaps, skips) => {
          let next = start
          const v = classifyDelta(
            sample(locals, (_l, i) => {
              const g = gaps.indexOf(i)
              if (g >= 0) next += k * (skips[g] as number)
              const mapped = next
              next += k
              return mapped
            }),
          )
          expect(v).toMatchObject({ type: DeltaType.Independent, value: k })
        },
      ),
    )
  })

  it('dependent NATs (local +1 → mapped +k, jumps unrelated) are dependent', () => {
    fc.assert(
      fc.property(
        plan,
        fc.integer({ min: 2, max: 100 }),
        fc.array(fc.integer({ min: 1024, max: 65535 }), { minLength: 9, maxLength: 9 }),
        (locals, k, randoms) => {
          const s = sample(locals, (l, i, prev) =>
            prev && l === prev.local + 1 ? prev.mapped + k : (randoms[i] as number),
          )
          // Random jump targets could by chance continue the run (or land a few allocations
          // further, which reads as a sequential NAT with others allocating in between):
          // skip those rare draws.
          fc.pre(
            s.every((x, i) => {
              if (i === 0 || locals[i] === (locals[i - 1] as number) + 1) return true
              const m = (x.mapped - (s[i - 1] as DeltaSample).mapped) / k
              return !(Number.isInteger(m) && m >= 1 && m <= 4)
            }),
          )
          expect(classifyDelta(s)).toMatchObject({ type: DeltaType.Dependent, value: k })
        },
      ),
    )
  })

  it('random NATs are random, with a range estimate around the true one', () => {
    fc.assert(
      fc.property(
        plan,
        fc.array(fc.integer({ min: 35000, max: 65535 }), { minLength: 9, maxLength: 9 }),
        (locals, ports) => {
          const v = classifyDelta(sample(locals, (_l, i) => ports[i] as number))
          fc.pre(new Set(ports).size === 9)
          expect(v.type).toBe(DeltaType.Random)
          const [lo, hi] = v.range as [number, number]
          expect(lo).toBeLessThanOrEqual(Math.min(...ports))
          expect(hi).toBeGreaterThanOrEqual(Math.max(...ports))
        },
      ),
    )
  })
})
