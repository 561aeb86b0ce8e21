import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release } from 'node:os'
import { join } from 'node:path'
import type { LinkShape } from './delayline.js'
import { NatlabError } from './errors.js'
import { parseProfile } from './profiles.js'
import { renderHtml, renderMarkdown } from './report.js'
import { getRunner, runnerNames, type StrategyRunner } from './runners/index.js'
import {
  type CellRecord,
  type ColumnRecord,
  cellOutcome,
  columnName,
  type MatrixResults,
  SCHEMA_VERSION,
  type SelfCheckSummary,
  shapeRecord,
  type TrialRecord,
} from './schema.js'
import { assertSelfCheck, selfCheck } from './selfcheck.js'
import type { LabServer } from './servers.js'
import { Lab, type LabPeer, type PeerSpec } from './topology.js'
import { runTrial } from './trial.js'

/** One delay column of a matrix run: its own lab with these link shapes. */
export interface MatrixColumn {
  /** Default: from the shapes (`0ms`, `25ms`, `5:80ms`). */
  readonly name?: string
  /** Delay line on every router uplink (rows and columns); none when absent. */
  readonly shape?: LinkShape
  /** The column (B side) routers' delay line instead of `shape`; `null`: none on B's uplinks. */
  readonly shapeB?: LinkShape | null
}

export interface MatrixOptions {
  /** Profile names (rows and columns). */
  readonly profiles: readonly string[]
  /** Runner names (see `runnerNames()`) or runners. */
  readonly strategies: readonly (string | StrategyRunner)[]
  readonly trials?: number
  /** Delay line on every router uplink (one-column run; ignored with `columns`). */
  readonly shape?: LinkShape
  /**
   * Delay line of the column (B side) routers instead of `shape` (asymmetric paths: e.g. 5 ms
   * on A's uplink, 80 ms on B's); `null`: no delay line on B's uplinks. Ignored with `columns`.
   */
  readonly shapeB?: LinkShape | null
  /**
   * Several delay columns in one run (each its own lab, self-check and trials, all in one
   * results file); default: one column of `shape` / `shapeB`.
   */
  readonly columns?: readonly MatrixColumn[]
  /** Output directory for the three files (default `./natlab-results`); `null`: write nothing. */
  readonly outDir?: string | null
  /** Runner options (`retryOnRst`, `deadlineMs`, …). */
  readonly options?: Readonly<Record<string, unknown>>
  /** Cells run at once (cells in one batch share no peer). Default 1. */
  readonly parallel?: number
  /** Only these (a, b) pairs instead of the full grid. */
  readonly pairs?: readonly (readonly [string, string])[]
  readonly servers?: readonly LabServer[]
  /**
   * Go on when the self-check's only mismatches are round trips above the configured delay
   * (a loaded machine adds tens of ms): recorded in the results, not thrown. NAT behaviour
   * mismatches still stop the run.
   */
  readonly tolerateRtt?: boolean
  /** The command line to record in the results (`lab.command`). */
  readonly command?: string
  readonly log?: (m: string) => void
}

const median = (xs: number[]) => {
  if (!xs.length) return null
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)] as number
}

/** The three output files of a matrix run. */
export function writeResults(outDir: string, results: MatrixResults): string[] {
  mkdirSync(outDir, { recursive: true })
  const files = [
    [join(outDir, 'natlab-results.json'), `${JSON.stringify(results, null, 2)}\n`],
    [join(outDir, 'natlab-results.md'), renderMarkdown(results)],
    [join(outDir, 'natlab-results.html'), renderHtml(results)],
  ] as const
  for (const [f, text] of files) writeFileSync(f, text)
  return files.map(([f]) => f)
}

/**
 * The code under test: short commit (`+dirty` when tracked files have changes) and the
 * changed paths (best effort: nothing when git is missing).
 */
function gitCommit(): { commit?: string; dirty?: string[] } {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    })
      .split('\n')
      .map((l) => l.slice(3).trim())
      .filter(Boolean)
    return dirty.length ? { commit: `${head}+dirty`, dirty } : { commit: head }
  } catch {
    return {}
  }
}

const round2 = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100)

/**
 * Runs the connectivity matrix: per delay column, builds a fresh lab with two peers per
 * profile (one for rows, one for columns, so a profile can meet itself), self-checks every
 * router (a mismatch is a lab fault and stops the run), then runs `trials` trials per
 * (A, B, strategy) cell from fresh processes; writes `natlab-results.{json,md,html}` with every
 * column's cells, each tagged with its column.
 */
export async function runMatrix(opts: MatrixOptions): Promise<MatrixResults> {
  const log = opts.log ?? (() => {})
  const profiles = [...new Set(opts.profiles.map((p) => parseProfile(p).name))]
  const runners = opts.strategies.map((s) => {
    if (typeof s !== 'string') return s
    const r = getRunner(s)
    if (!r)
      throw new NatlabError(
        'NATLAB_USAGE',
        `unknown strategy '${s}' (known: ${runnerNames().join(', ')})`,
      )
    return r
  })
  const trials = opts.trials ?? 3
  const startedAt = new Date()
  const specs: MatrixColumn[] = opts.columns?.length
    ? [...opts.columns]
    : [{ shape: opts.shape, ...(opts.shapeB !== undefined ? { shapeB: opts.shapeB } : {}) }]
  const named = specs.map((c) => {
    const a = shapeRecord(c.shape)
    const b = c.shapeB === undefined ? a : shapeRecord(c.shapeB)
    return { spec: c, name: c.name ?? columnName(a, b), shape: a, shapeB: b }
  })
  if (new Set(named.map((c) => c.name)).size !== named.length)
    throw new NatlabError('NATLAB_USAGE', `repeated column: ${named.map((c) => c.name).join(', ')}`)
  const git = gitCommit()
  const columns: ColumnRecord[] = []
  const cells: CellRecord[] = []
  const resultsSoFar = (): MatrixResults => {
    const finishedAt = new Date()
    const first = columns[0] as ColumnRecord
    return {
      schemaVersion: SCHEMA_VERSION,
      generator: 'p2pd-natlab',
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      lab: {
        prefix: first.prefix,
        shape: first.shape,
        ...(first.shapeB !== first.shape ? { shapeB: first.shapeB } : {}),
        kernel: release(),
        node: process.version,
        cpus: cpus().length,
        ...git,
        ...(opts.command ? { command: opts.command } : {}),
      },
      columns: [...columns],
      plannedColumns: named.map((c) => c.name),
      profiles,
      strategies: runners.map((r) => r.name),
      trialsPerCell: trials,
      options: opts.options ?? {},
      selfCheck: {
        ok: columns.every((c) => c.selfCheck.ok),
        peers: columns.flatMap((c) => c.selfCheck.peers),
      },
      cells: [...cells],
    }
  }
  for (const col of named) {
    log(`column ${col.name}: building the lab`)
    const r = await runColumn(opts, col.spec, col.name, profiles, runners, trials, log)
    columns.push({ ...r.column, shape: col.shape, shapeB: col.shapeB })
    cells.push(...r.cells)
    // Every finished column is on disk at once: a long run stopped midway keeps its columns.
    if (opts.outDir !== null && columns.length < named.length)
      writeResults(opts.outDir ?? 'natlab-results', resultsSoFar())
  }
  const results = resultsSoFar()
  if (opts.outDir !== null) {
    const files = writeResults(opts.outDir ?? 'natlab-results', results)
    log(`wrote ${files.join(', ')}`)
  }
  return results
}

/** One column: its lab up, self-checked, every cell's trials, lab down. */
async function runColumn(
  opts: MatrixOptions,
  spec: MatrixColumn,
  column: string,
  profiles: readonly string[],
  runners: readonly StrategyRunner[],
  trials: number,
  log: (m: string) => void,
): Promise<{ column: Omit<ColumnRecord, 'shape' | 'shapeB'>; cells: CellRecord[] }> {
  const startedAt = new Date()
  // Row peer 2i, column peer 2i+1 (each may carry its own link shape).
  const peers = profiles.flatMap<string | PeerSpec>((p) =>
    spec.shapeB === undefined
      ? [p, p]
      : [
          { profile: p, shape: spec.shape },
          { profile: p, shape: spec.shapeB ?? { upMs: 0, downMs: 0 } },
        ],
  )
  const lab = await Lab.up({ peers, shape: spec.shape, servers: opts.servers, log })
  try {
    const info = lab.info
    const sc = await selfCheck(info, { log })
    const selfCheckSummary: SelfCheckSummary = {
      ok: sc.ok,
      peers: sc.peers.map((p) => ({
        peer: p.peer,
        profile: p.profile,
        ok: p.ok,
        mismatches: p.mismatches,
        rttConfiguredMs: p.rtt?.configuredMs ?? null,
        rttObservedMedianMs: p.rtt?.observedMedianMs ?? null,
      })),
    }
    const natFault = sc.peers.some((p) => p.mismatches.some((m) => !m.startsWith('rtt:')))
    if (opts.tolerateRtt && !natFault && !sc.ok)
      log(`[${column}] self-check: round trips above the configured delay (load); going on`)
    else assertSelfCheck(sc)
    const rowPeer = (i: number) => info.peers[2 * i] as LabPeer
    const colPeer = (i: number) => info.peers[2 * i + 1] as LabPeer
    const n = profiles.length
    const wanted = opts.pairs?.map(([a, b]) => `${parseProfile(a).name}|${parseProfile(b).name}`)
    // Batches of cells that share no peer: (i, i+s mod n) for each shift s.
    const batches: [number, number][][] = []
    for (let s = 0; s < n; s++) {
      const batch: [number, number][] = []
      for (let i = 0; i < n; i++) {
        const j = (i + s) % n
        if (!wanted || wanted.includes(`${profiles[i]}|${profiles[j]}`)) batch.push([i, j])
      }
      if (batch.length) batches.push(batch)
    }
    const cells: CellRecord[] = []
    const parallel = Math.max(1, opts.parallel ?? 1)
    const loadBefore = round2(loadavg())
    const load1: number[] = []
    for (const batch of batches) {
      for (let k = 0; k < batch.length; k += parallel) {
        const group = batch.slice(k, k + parallel)
        load1.push(loadavg()[0] ?? 0)
        const done = await Promise.all(
          group.map(async ([i, j]) => {
            const out: CellRecord[] = []
            for (const runner of runners) {
              const runs: TrialRecord[] = []
              for (let t = 0; t < trials; t++) {
                const r = await runTrial(info, runner, rowPeer(i), colPeer(j), {
                  options: opts.options,
                })
                runs.push({
                  column,
                  index: t,
                  ok: r.ok,
                  direct: r.direct,
                  path: r.path ?? null,
                  timeToConnectMs: r.timeToConnectMs ?? null,
                  winningStrategy: r.winningStrategy ?? null,
                  failureReason: r.failureReason ?? null,
                  skewMs: r.skewMs,
                  durationMs: r.durationMs,
                  a: r.a,
                  b: r.b,
                })
              }
              const ok = runs.filter((r) => r.ok)
              const cell: CellRecord = {
                column,
                a: profiles[i] as string,
                b: profiles[j] as string,
                strategy: runner.name,
                outcome: cellOutcome(runs),
                trials: runs.length,
                successes: ok.length,
                directSuccesses: ok.filter((r) => r.direct).length,
                medianTimeToConnectMs: median(ok.map((r) => r.timeToConnectMs ?? 0)),
                runs,
              }
              log(
                `[${column}] ${cell.a} × ${cell.b} ${runner.name}: ${cell.outcome} ${cell.successes}/${cell.trials}`,
              )
              out.push(cell)
            }
            return out
          }),
        )
        cells.push(...done.flat())
      }
    }
    return {
      column: {
        name: column,
        prefix: info.prefix,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        selfCheck: selfCheckSummary,
        loadBefore,
        loadAfter: round2(loadavg()),
        ...(load1.length
          ? {
              load1: {
                min: round2([Math.min(...load1)])[0] as number,
                median: round2([median(load1) as number])[0] as number,
                max: round2([Math.max(...load1)])[0] as number,
              },
            }
          : {}),
      },
      cells,
    }
  } finally {
    await lab.down()
  }
}
