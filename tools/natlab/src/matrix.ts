import { mkdirSync, writeFileSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import type { LinkShape } from './delayline.js'
import { NatlabError } from './errors.js'
import { parseProfile } from './profiles.js'
import { renderHtml, renderMarkdown } from './report.js'
import { getRunner, runnerNames, type StrategyRunner } from './runners/index.js'
import {
  type CellRecord,
  cellOutcome,
  type MatrixResults,
  SCHEMA_VERSION,
  type SelfCheckSummary,
  type TrialRecord,
} from './schema.js'
import { assertSelfCheck, selfCheck } from './selfcheck.js'
import type { LabServer } from './servers.js'
import { Lab, type LabInfo, type PeerSpec } from './topology.js'
import { runTrial } from './trial.js'

export interface MatrixOptions {
  /** Profile names (rows and columns). */
  readonly profiles: readonly string[]
  /** Runner names (see `runnerNames()`) or runners. */
  readonly strategies: readonly (string | StrategyRunner)[]
  readonly trials?: number
  /** Delay line on every router uplink. */
  readonly shape?: LinkShape
  /**
   * Delay line of the column (B side) routers instead of `shape` (asymmetric paths: e.g. 5 ms
   * on A's uplink, 80 ms on B's); `null`: no delay line on B's uplinks.
   */
  readonly shapeB?: LinkShape | null
  /** Output directory for the three files (default `./natlab-results`); `null`: write nothing. */
  readonly outDir?: string | null
  /** Runner options (`retryOnRst`, `deadlineMs`, …). */
  readonly options?: Readonly<Record<string, unknown>>
  /** Cells run at once (cells in one batch share no peer). Default 1. */
  readonly parallel?: number
  /** Only these (a, b) pairs instead of the full grid. */
  readonly pairs?: readonly (readonly [string, string])[]
  readonly servers?: readonly LabServer[]
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
 * Runs the connectivity matrix: builds a fresh lab with two peers per profile (one for rows,
 * one for columns, so a profile can meet itself), self-checks every router (a mismatch is a
 * lab fault and stops the run), then runs `trials` trials per (A, B, strategy) cell from fresh
 * processes, and writes `natlab-results.{json,md,html}`.
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
  // Row peer 2i, column peer 2i+1 (each may carry its own link shape).
  const peers = profiles.flatMap<string | PeerSpec>((p) =>
    opts.shapeB === undefined
      ? [p, p]
      : [
          { profile: p, shape: opts.shape },
          { profile: p, shape: opts.shapeB ?? { upMs: 0, downMs: 0 } },
        ],
  )
  const lab = await Lab.up({ peers, shape: opts.shape, servers: opts.servers, log })
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
    assertSelfCheck(sc)
    const rowPeer = (i: number) => info.peers[2 * i] as LabInfo['peers'][number]
    const colPeer = (i: number) => info.peers[2 * i + 1] as LabInfo['peers'][number]
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
    for (const batch of batches) {
      for (let k = 0; k < batch.length; k += parallel) {
        const group = batch.slice(k, k + parallel)
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
                `${cell.a} × ${cell.b} ${runner.name}: ${cell.outcome} ${cell.successes}/${cell.trials}`,
              )
              out.push(cell)
            }
            return out
          }),
        )
        cells.push(...done.flat())
      }
    }
    const finishedAt = new Date()
    const s = opts.shape
    const sb = opts.shapeB
    const results: MatrixResults = {
      schemaVersion: SCHEMA_VERSION,
      generator: 'p2pd-natlab',
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      lab: {
        prefix: info.prefix,
        shape: s
          ? { upMs: s.upMs, downMs: s.downMs, jitterMs: s.jitterMs ?? 0, loss: s.loss ?? 0 }
          : null,
        ...(sb !== undefined
          ? {
              shapeB: sb
                ? {
                    upMs: sb.upMs,
                    downMs: sb.downMs,
                    jitterMs: sb.jitterMs ?? 0,
                    loss: sb.loss ?? 0,
                  }
                : null,
            }
          : {}),
        kernel: release(),
        node: process.version,
      },
      profiles,
      strategies: runners.map((r) => r.name),
      trialsPerCell: trials,
      options: opts.options ?? {},
      selfCheck: selfCheckSummary,
      cells,
    }
    if (opts.outDir !== null) {
      const files = writeResults(opts.outDir ?? 'natlab-results', results)
      log(`wrote ${files.join(', ')}`)
    }
    return results
  } finally {
    await lab.down()
  }
}
