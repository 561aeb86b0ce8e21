import type { PathKind, SideReport } from './trial.js'

/** Version of `natlab-results.json`. Bumped on any incompatible change; fields are only added. */
export const SCHEMA_VERSION = 1

/** A cell's verdict, from its trials (this is the grid colour). */
export type CellOutcome = 'direct' | 'relayed' | 'unverified' | 'partial' | 'fail' | 'lab-fault'

/** One trial, as stored. */
export interface TrialRecord {
  readonly index: number
  readonly ok: boolean
  readonly direct: boolean
  readonly path: PathKind | null
  readonly timeToConnectMs: number | null
  readonly winningStrategy: string | null
  readonly failureReason: string | null
  readonly skewMs: number
  readonly durationMs: number
  readonly a: SideReport
  readonly b: SideReport
}

/** One (row profile, column profile, strategy) cell. Row = side A (dials first), column = B. */
export interface CellRecord {
  readonly a: string
  readonly b: string
  readonly strategy: string
  readonly outcome: CellOutcome
  readonly trials: number
  readonly successes: number
  readonly directSuccesses: number
  readonly medianTimeToConnectMs: number | null
  readonly runs: readonly TrialRecord[]
}

export interface SelfCheckSummary {
  readonly ok: boolean
  readonly peers: readonly {
    readonly peer: string
    readonly profile: string
    readonly ok: boolean
    readonly mismatches: readonly string[]
    readonly rttConfiguredMs: number | null
    readonly rttObservedMedianMs: number | null
  }[]
}

/** The whole file. */
export interface MatrixResults {
  readonly schemaVersion: typeof SCHEMA_VERSION
  readonly generator: 'p2pd-natlab'
  readonly startedAt: string
  readonly finishedAt: string
  readonly durationMs: number
  readonly lab: {
    readonly prefix: string
    /** Delay line per router uplink, or null when there was none. */
    readonly shape: { upMs: number; downMs: number; jitterMs: number; loss: number } | null
    /** Set when the column (B) routers had their own delay line (`--delay-b`); fields added only. */
    readonly shapeB?: { upMs: number; downMs: number; jitterMs: number; loss: number } | null
    readonly kernel: string
    readonly node: string
  }
  /** Row and column order of the grid. */
  readonly profiles: readonly string[]
  readonly strategies: readonly string[]
  readonly trialsPerCell: number
  /** Runner options the matrix was given. */
  readonly options: Readonly<Record<string, unknown>>
  readonly selfCheck: SelfCheckSummary
  readonly cells: readonly CellRecord[]
}

/** The cell verdict from its trials. */
export function cellOutcome(
  runs: readonly Pick<TrialRecord, 'ok' | 'direct' | 'path'>[],
): CellOutcome {
  const ok = runs.filter((r) => r.ok)
  if (ok.length === 0) return 'fail'
  if (ok.length < runs.length) return 'partial'
  if (ok.every((r) => r.direct)) return 'direct'
  if (ok.some((r) => r.path === 'relayed')) return 'relayed'
  return 'unverified'
}

/** Throws a readable error unless `x` looks like a {@link MatrixResults} (shallow, for tools). */
export function validateResults(x: unknown): MatrixResults {
  const r = x as MatrixResults
  const fail = (why: string): never => {
    throw new Error(`not a natlab results file: ${why}`)
  }
  if (!r || typeof r !== 'object') fail('not an object')
  if (r.schemaVersion !== SCHEMA_VERSION) fail(`schemaVersion ${String(r.schemaVersion)}`)
  if (!Array.isArray(r.profiles) || !Array.isArray(r.strategies) || !Array.isArray(r.cells))
    fail('profiles/strategies/cells missing')
  for (const c of r.cells) {
    if (typeof c.a !== 'string' || typeof c.b !== 'string' || typeof c.strategy !== 'string')
      fail('cell without a/b/strategy')
    if (!Array.isArray(c.runs) || c.runs.length !== c.trials)
      fail(`cell ${c.a}×${c.b} runs ≠ trials`)
    if (c.successes !== c.runs.filter((t) => t.ok).length) fail(`cell ${c.a}×${c.b} successes`)
  }
  return r
}
