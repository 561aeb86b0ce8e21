// The shape of bench-results.json, and the statistics every figure in it goes through.
import { type LabResults, validateLab } from './lab.js'

/** One figure for one implementation over the rounds of a run. */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  /** One value per round, in round order. */
  readonly samples: readonly number[]
  /** Median over the baseline's median (absent for the baseline itself or without one). */
  readonly ratio?: number
}

export interface MetricResult {
  /** Row label in the README, sizes included (e.g. `bulk 64 MiB one way, MB/s`). */
  readonly title: string
  readonly unit: string
  readonly better: 'higher' | 'lower'
  /** Column the ratios are taken against. */
  readonly baseline?: string
  readonly results: Readonly<Record<string, Summary>>
  /** Columns that were asked for but have no figure, and why. */
  readonly missing?: Readonly<Record<string, string>>
}

export interface BenchResults {
  readonly schema: 1
  readonly date: string
  readonly command: string
  /**
   * The commit checked out when the run started; `dirty` when packages/ had uncommitted changes
   * then; `atEnd` when HEAD moved during the run.
   */
  readonly commit: { readonly id: string; readonly dirty: boolean; readonly atEnd?: string }
  readonly machine: {
    readonly cpu: string
    readonly cores: number
    readonly node: string
    readonly platform: string
    readonly loadStart: readonly number[]
    readonly loadEnd: readonly number[]
  }
  readonly rounds: number
  readonly quick: boolean
  /** Column name → what was measured (`js-libp2p 3.3.11 …`) or why it is missing. */
  readonly implementations: Readonly<Record<string, string>>
  readonly metrics: Readonly<Record<string, MetricResult>>
  /**
   * NAT-lab figures (`pnpm bench --lab`, a run of its own with its own date, load and commit);
   * a loopback run keeps the ones already in the file.
   */
  readonly lab?: LabResults
}

export function summarize(samples: readonly number[], baseline?: number): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median =
    sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return {
    median,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    samples,
    ...(baseline !== undefined && baseline > 0 ? { ratio: median / baseline } : {}),
  }
}

/** Checks the parts the README generator and the smoke test rely on; returns what is wrong. */
export function validate(value: unknown): string[] {
  const problems: string[] = []
  const r = value as BenchResults
  if (r?.schema !== 1) return ['schema is not 1']
  for (const key of ['date', 'command'] as const)
    if (typeof r[key] !== 'string') problems.push(`${key} missing`)
  if (typeof r.commit?.id !== 'string') problems.push('commit missing')
  if (typeof r.machine?.cpu !== 'string' || !(r.machine.cores > 0)) problems.push('machine missing')
  for (const [name, metric] of Object.entries(r.metrics ?? {})) {
    for (const [impl, s] of Object.entries(metric.results)) {
      const ok =
        s.samples.length > 0 &&
        s.samples.every((x) => Number.isFinite(x) && x > 0) &&
        s.min <= s.median &&
        s.median <= s.max
      if (!ok) problems.push(`${name}/${impl}: not positive finite figures`)
    }
  }
  if (r.lab) problems.push(...validateLab(r.lab))
  return problems
}
