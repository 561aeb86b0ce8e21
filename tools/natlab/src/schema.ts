import type { PathKind, SideReport } from './trial.js'

/**
 * Version of `natlab-results.json`. Bumped on any incompatible change; fields are only added.
 * 2: several delay columns per run (`columns`, and `column` on every cell and trial).
 */
export const SCHEMA_VERSION = 2

/** A cell's verdict, from its trials (this is the grid colour). */
export type CellOutcome = 'direct' | 'relayed' | 'unverified' | 'partial' | 'fail' | 'lab-fault'

/** One trial, as stored. */
export interface TrialRecord {
  /** The delay column the trial ran in (`ColumnRecord.name`). */
  readonly column: string
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
  /** The delay column (`ColumnRecord.name`). */
  readonly column: string
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

/** A delay line as stored. */
export interface ShapeRecord {
  readonly upMs: number
  readonly downMs: number
  readonly jitterMs: number
  readonly loss: number
}

/** One delay column: its own lab (built, self-checked, torn down) and link shapes. */
export interface ColumnRecord {
  /** `0ms`, `25ms`, `5:80ms` (A's routers 5 ms, B's 80 ms), … */
  readonly name: string
  /** Delay line on the row (A) routers' uplinks; null: none. */
  readonly shape: ShapeRecord | null
  /** Delay line on the column (B) routers' uplinks; null: none. */
  readonly shapeB: ShapeRecord | null
  readonly prefix: string
  readonly startedAt: string
  readonly durationMs: number
  readonly selfCheck: SelfCheckSummary
  /** `os.loadavg()` (1, 5, 15 min) when the column's trials started and ended. */
  readonly loadBefore: readonly number[]
  readonly loadAfter: readonly number[]
  /** 1-min load average sampled before every group of cells: min, median, max. */
  readonly load1?: { readonly min: number; readonly median: number; readonly max: number }
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
    /** CPUs of the machine the lab ran on. */
    readonly cpus?: number
    /** `git describe`-ish commit of the code under test (`abc1234`, `+dirty` when modified). */
    readonly commit?: string
    /** Tracked files with uncommitted changes when the run started (the `+dirty` of `commit`). */
    readonly dirty?: readonly string[]
    /** The `pnpm lab …` arguments of the run, when it came from the CLI. */
    readonly command?: string
  }
  /** Delay columns in order (a v1 file is read as one column). */
  readonly columns: readonly ColumnRecord[]
  /** Every column the run was asked for (more than `columns` when it was stopped midway). */
  readonly plannedColumns?: readonly string[]
  /** Row and column order of the grid. */
  readonly profiles: readonly string[]
  readonly strategies: readonly string[]
  readonly trialsPerCell: number
  /** Runner options the matrix was given. */
  readonly options: Readonly<Record<string, unknown>>
  /** Every column's self-check together (ok only when all passed). */
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

/** A delay line as stored, or null. */
export function shapeRecord(
  s: { upMs: number; downMs: number; jitterMs?: number; loss?: number } | null | undefined,
): ShapeRecord | null {
  return s ? { upMs: s.upMs, downMs: s.downMs, jitterMs: s.jitterMs ?? 0, loss: s.loss ?? 0 } : null
}

/** The default column name of a pair of shapes: `0ms`, `25ms`, `5:80ms`, `25ms±5`. */
export function columnName(a: ShapeRecord | null, b: ShapeRecord | null): string {
  const one = (s: ShapeRecord | null) =>
    !s ? '0' : s.upMs === s.downMs ? `${s.upMs}` : `${s.upMs}/${s.downMs}`
  const base = one(a) === one(b) ? `${one(a)}ms` : `${one(a)}:${one(b)}ms`
  const j = Math.max(a?.jitterMs ?? 0, b?.jitterMs ?? 0)
  const l = Math.max(a?.loss ?? 0, b?.loss ?? 0)
  return base + (j ? `±${j}` : '') + (l ? `~${l}` : '')
}

/** A v1 file (one delay per run) as a one-column v2 file. */
function upgradeV1(r: Record<string, unknown>): unknown {
  // biome-ignore lint/suspicious/noExplicitAny: untyped v1 JSON
  const v1 = r as any
  const shape = shapeRecord(v1.lab?.shape)
  const shapeB = v1.lab?.shapeB === undefined ? shape : shapeRecord(v1.lab.shapeB)
  const name = columnName(shape, shapeB)
  const cells = Array.isArray(v1.cells)
    ? // biome-ignore lint/suspicious/noExplicitAny: untyped v1 JSON
      v1.cells.map((c: any) => ({
        ...c,
        column: name,
        // biome-ignore lint/suspicious/noExplicitAny: untyped v1 JSON
        runs: Array.isArray(c?.runs) ? c.runs.map((t: any) => ({ ...t, column: name })) : c?.runs,
      }))
    : v1.cells
  return {
    ...v1,
    schemaVersion: SCHEMA_VERSION,
    columns: [
      {
        name,
        shape,
        shapeB,
        prefix: v1.lab?.prefix ?? '',
        startedAt: v1.startedAt,
        durationMs: v1.durationMs,
        selfCheck: v1.selfCheck,
        loadBefore: [],
        loadAfter: [],
      },
    ],
    cells,
  }
}

/**
 * Throws a readable error unless `x` looks like a {@link MatrixResults} (shallow, for tools).
 * A version 1 file (one delay column) is upgraded to the current shape.
 */
export function validateResults(x: unknown): MatrixResults {
  const fail = (why: string): never => {
    throw new Error(`not a natlab results file: ${why}`)
  }
  if (!x || typeof x !== 'object') fail('not an object')
  const v = (x as { schemaVersion?: unknown }).schemaVersion
  const r = (v === 1 ? upgradeV1(x as Record<string, unknown>) : x) as MatrixResults
  if (r.schemaVersion !== SCHEMA_VERSION) fail(`schemaVersion ${String(v)}`)
  if (
    !Array.isArray(r.profiles) ||
    !Array.isArray(r.strategies) ||
    !Array.isArray(r.cells) ||
    !Array.isArray(r.columns)
  )
    fail('profiles/strategies/columns/cells missing')
  const columns = new Set(r.columns.map((c) => c?.name))
  if (columns.size !== r.columns.length || [...columns].some((n) => typeof n !== 'string'))
    fail('column names missing or repeated')
  for (const c of r.cells) {
    if (typeof c.a !== 'string' || typeof c.b !== 'string' || typeof c.strategy !== 'string')
      fail('cell without a/b/strategy')
    if (!columns.has(c.column)) fail(`cell ${c.a}×${c.b} in unknown column ${String(c.column)}`)
    if (!Array.isArray(c.runs) || c.runs.length !== c.trials)
      fail(`cell ${c.a}×${c.b} runs ≠ trials`)
    if (c.runs.some((t) => t.column !== c.column)) fail(`cell ${c.a}×${c.b} trial column`)
    if (c.successes !== c.runs.filter((t) => t.ok).length) fail(`cell ${c.a}×${c.b} successes`)
  }
  return r
}
