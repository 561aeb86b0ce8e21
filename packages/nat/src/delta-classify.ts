import { type Delta, DeltaType } from '@p2pd/interface'
import { mode, portDistance } from './port-math.js'

/** One delta sample: a fresh local port and the public port the NAT gave it. */
export interface DeltaSample {
  readonly local: number
  readonly mapped: number
}

/** The delta models, in P2PD's vocabulary. */
export type DeltaModel = 'equal' | 'preserving' | 'independent' | 'dependent' | 'random'

/** A delta classification: P2PD's {type, value} plus how sure we are and why. */
export interface DeltaVerdict extends Delta {
  readonly model: DeltaModel
  /** 0–1: the share of the evidence that fits the model, discounted for few samples. */
  readonly confidence: number
  /** Share of samples (equal, preserving) or pairs (independent, dependent) that fit. */
  readonly agreement: number
  /** Samples that answered, and consecutive pairs among them. */
  readonly samples: number
  readonly pairs: number
  /** Preserving: the constant mapped − local offset. */
  readonly offset?: number
  /** Smallest and largest mapped port seen. */
  readonly span?: readonly [number, number]
  /**
   * Allocation range, when observable: a sequential NAT seen wrapping around (the span),
   * or for random allocation the unbiased estimate of a uniform range from the samples.
   */
  readonly range?: readonly [number, number]
}

export interface ClassifyDeltaOptions {
  /** Share of the evidence a model needs (default 0.75). */
  readonly threshold?: number
}

interface Pair {
  readonly dl: number
  readonly dm: number
}

/**
 * Classifies samples taken *serially* (in the NAT's allocation order), from local ports that
 * come in runs of consecutive ports separated by jumps (see `deltaPortPlan`). Lost samples
 * are `undefined`: they only break the pairs around them. Models, in the order tried:
 *
 * - **equal**: mapped == local for ≥ threshold of the samples.
 * - **preserving**: mapped − local is one constant ≠ 0 for ≥ threshold of the samples (a jump
 *   of the local port moves the mapping by the same distance).
 * - **independent (k)**: mapped − previous mapped == k (signed) for ≥ threshold of all pairs,
 *   jumps included (at least half of the jump pairs must agree). Other hosts (or our own
 *   concurrent connections) allocating between two samples turn a step of k into 2k or 3k:
 *   such pairs count too when at least half the pairs step exactly k, and so do the jumps.
 * - **dependent (k)**: the same for the pairs whose local ports are consecutive (+1), while the
 *   jumps do *not* follow k. This makes a +1 sequential NAT "independent 1" and a NAT that
 *   only tracks +1 local steps "dependent", two things P2PD could not tell apart (D2).
 * - **random**: nothing above fits.
 */
export function classifyDelta(
  samples: readonly (DeltaSample | undefined)[],
  opts: ClassifyDeltaOptions = {},
): DeltaVerdict {
  const threshold = opts.threshold ?? 0.75
  const valid = samples.filter((s): s is DeltaSample => s !== undefined)
  const pairs: Pair[] = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]
    const b = samples[i]
    if (a && b)
      pairs.push({ dl: portDistance(a.local, b.local), dm: portDistance(a.mapped, b.mapped) })
  }
  const n = valid.length
  const base = { samples: n, pairs: pairs.length, ...spanOf(valid) }
  if (n < 2) {
    return {
      type: DeltaType.Random,
      value: 0,
      model: 'random',
      confidence: 0,
      agreement: 0,
      ...base,
    }
  }
  const sure = (count: number) => 1 - 2 ** -count

  const equal = valid.filter((s) => s.mapped === s.local).length
  if (equal / n >= threshold) {
    return verdict('equal', DeltaType.Equal, 0, equal / n, sure(equal), base)
  }

  const offsets = mode(valid.map((s) => portDistance(s.local, s.mapped)))
  const preserving = offsets.value !== 0 ? offsets.count / n : 0

  const jumps = pairs.filter((p) => p.dl !== 1)
  const runs = pairs.filter((p) => p.dl === 1)
  const step = mode(pairs.map((p) => p.dm).filter((d) => d !== 0))
  const jumpFit = jumps.length ? jumps.filter((p) => p.dm === step.value).length / jumps.length : 1
  const independent = pairs.length && jumpFit >= 0.5 ? step.count / pairs.length : 0

  if (preserving >= threshold && preserving >= independent) {
    return {
      ...verdict('preserving', DeltaType.Preserving, 0, preserving, sure(offsets.count), base),
      offset: offsets.value,
    }
  }
  // Exact steps first; failing that, steps with others' allocations in between.
  const sequential =
    independent >= threshold ? independent : interferedStep(pairs, jumps, step, threshold)
  if (sequential >= threshold) {
    const v = verdict(
      'independent',
      DeltaType.Independent,
      step.value,
      sequential,
      sure(step.count),
      base,
    )
    const range = wrapRange(valid, pairs, step.value)
    return range ? { ...v, range } : v
  }
  const runStep = mode(runs.map((p) => p.dm).filter((d) => d !== 0))
  const runFit = runs.length >= 2 ? runStep.count / runs.length : 0
  const jumpsFollow =
    jumps.length > 0 && jumps.filter((p) => p.dm === runStep.value).length / jumps.length >= 0.5
  if (runFit >= threshold && !jumpsFollow) {
    return verdict(
      'dependent',
      DeltaType.Dependent,
      runStep.value,
      runFit,
      sure(runStep.count),
      base,
    )
  }

  const best = Math.max(equal / n, preserving, independent, runFit)
  const v = verdict('random', DeltaType.Random, 0, 1 - best, sure(pairs.length), base)
  const range = uniformRange(valid)
  return range ? { ...v, range } : v
}

/** A sample pair may skip this many allocations of someone else and still count as a step. */
const MAX_SKIPPED = 3

/**
 * Fraction of pairs that step by 1…MAX_SKIPPED+1 times `step` (sequential allocation with
 * others interleaved), or 0 unless most pairs step exactly `step` and the jumps fit too.
 */
function interferedStep(
  pairs: readonly Pair[],
  jumps: readonly Pair[],
  step: { value: number; count: number },
  threshold: number,
): number {
  if (!pairs.length || step.value === 0 || step.count / pairs.length < 0.5) return 0
  const fits = (p: Pair) => {
    const m = p.dm / step.value
    return Number.isInteger(m) && m >= 1 && m <= MAX_SKIPPED + 1
  }
  // The jumps must fit as well as the threshold asks: they are what tells a sequential NAT
  // from one that only follows consecutive local ports.
  if (jumps.length && jumps.filter(fits).length / jumps.length < threshold) return 0
  return pairs.filter(fits).length / pairs.length
}

function verdict(
  model: DeltaModel,
  type: DeltaType,
  value: number,
  agreement: number,
  sampleFactor: number,
  base: { samples: number; pairs: number; span?: readonly [number, number] },
): DeltaVerdict {
  return { type, value, model, agreement, confidence: agreement * sampleFactor, ...base }
}

function spanOf(valid: readonly DeltaSample[]): { span?: readonly [number, number] } {
  if (valid.length === 0) return {}
  const ports = valid.map((s) => s.mapped)
  return { span: [Math.min(...ports), Math.max(...ports)] }
}

/** A sequential NAT that wrapped (a big step against the sign of k) shows its range. */
function wrapRange(
  valid: readonly DeltaSample[],
  pairs: readonly Pair[],
  k: number,
): readonly [number, number] | undefined {
  const wrapped = pairs.some(
    (p) => Math.sign(p.dm) === -Math.sign(k) && Math.abs(p.dm) > 2 * Math.abs(k),
  )
  if (!wrapped) return undefined
  return spanOf(valid).span
}

/** Unbiased estimate of [a, b] from n uniform samples: min/max widened by (max−min)/(n−1). */
function uniformRange(valid: readonly DeltaSample[]): readonly [number, number] | undefined {
  if (valid.length < 4) return undefined
  const ports = valid.map((s) => s.mapped)
  const lo = Math.min(...ports)
  const hi = Math.max(...ports)
  const pad = (hi - lo) / (valid.length - 1)
  return [Math.max(1, Math.floor(lo - pad)), Math.min(65535, Math.ceil(hi + pad))]
}
