// `pnpm bench --lab`: the NAT-lab figures of bench-results.json — time to connect per strategy
// and relayed vs direct throughput through the authenticated pipe at a stated delay — measured
// by the lab's own benchmark (tools/natlab `benchP2pd`: one fresh lab, one trial at a time, the
// delay line on every router uplink). Needs root (network namespaces).
import { loadavg } from 'node:os'
import type { BenchCase, BenchP2pdResults, Stats } from '../../natlab/src/bench-p2pd.js'

/** One lab figure: median, spread and trial count (the lab keeps no per-trial list). */
export interface LabFigure {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
  /** Trials asked for (n counts the ones that succeeded and measured). */
  readonly trials: number
  /** Throughput only: median over the direct pipe's median, for rows on the direct pipe's pair. */
  readonly ratio?: number
}

export interface LabRow {
  /** What was measured, e.g. `punch (cone × cone)`. */
  readonly name: string
  /** A × B NAT profiles. */
  readonly pair: string
  /** The winning strategy of each successful trial, with counts (`punch 5`). */
  readonly winners: string
  /** Trials run, and those that connected (a throughput figure also needs the receiver's rate). */
  readonly trials: number
  readonly successes: number
  readonly figure: LabFigure | null
  readonly failures: readonly string[]
}

/** The `lab` part of bench-results.json; written by `pnpm bench --lab` alone. */
export interface LabResults {
  readonly date: string
  readonly command: string
  readonly commit: string
  /** One-way delay of every router uplink, ms: a peer-to-peer round trip crosses four. */
  readonly uplinkDelayMs: number
  readonly congestionControl: string
  readonly loadStart: readonly number[]
  readonly loadEnd: readonly number[]
  readonly durationMs: number
  /** ms from the later side's start to it holding its authenticated pipe. */
  readonly connect: readonly LabRow[]
  /** Set when `connect` was kept from an earlier run (`--lab-throughput-only`): its date. */
  readonly connectDate?: string
  /** Mbit/s through the authenticated pipe, measured by the receiver. */
  readonly throughput: readonly LabRow[]
}

export interface LabOptions {
  readonly trials: number
  readonly throughputTrials: number
  readonly uplinkDelayMs: number
  /** Skip the time-to-connect cases (their rows are then kept from the previous results). */
  readonly throughputOnly?: boolean
  readonly log: (line: string) => void
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

function figure(s: Stats | null | undefined, trials: number, base?: number): LabFigure | null {
  if (!s) return null
  return {
    median: s.median,
    min: s.min,
    max: s.max,
    n: s.n,
    trials,
    ...(base ? { ratio: round(s.median / base, 2) } : {}),
  }
}

function row(c: BenchCase, value: Stats | null | undefined, base?: number): LabRow {
  return {
    name: c.name,
    pair: `${c.a} × ${c.b}`,
    winners: Object.entries(c.winners)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    trials: c.trials,
    successes: c.successes,
    figure: figure(value, c.trials, base),
    failures: c.failures,
  }
}

/** The lab benchmark's output as bench-results.json's `lab` part. */
export function labResults(
  r: BenchP2pdResults,
  meta: { command: string; commit: string; loadStart: readonly number[] },
): LabResults {
  // Ratios only against the direct pipe of the same pair: another pair's path differs.
  const directCase = r.throughput.find((c) => c.runner === 'node-direct')
  const direct = directCase?.mbitPerS?.median
  const samePair = (c: BenchCase) => c.a === directCase?.a && c.b === directCase?.b
  return {
    date: r.startedAt,
    command: meta.command,
    commit: meta.commit,
    uplinkDelayMs: r.shape?.upMs ?? 0,
    congestionControl: r.congestionControl,
    loadStart: meta.loadStart,
    loadEnd: loadavg().map((x) => round(x, 2)),
    durationMs: r.durationMs,
    connect: r.connect.map((c) => row(c, c.timeToConnectMs)),
    throughput: r.throughput.map((c) =>
      row(c, c.mbitPerS, c.runner !== 'node-direct' && samePair(c) ? direct : undefined),
    ),
  }
}

/**
 * A throughput-only run's figures with the time-to-connect rows of the previous results (if
 * any), dated: a partial run replaces only what it measured.
 */
export function keepConnectRows(fresh: LabResults, previous: LabResults | undefined): LabResults {
  if (!previous || fresh.connect.length > 0) return fresh
  return { ...fresh, connect: previous.connect, connectDate: previous.connectDate ?? previous.date }
}

/** Runs the lab benchmark (root; a fresh lab, torn down after). */
export async function runLab(opts: LabOptions): Promise<BenchP2pdResults> {
  // Imported here: the natlab tool pulls in its servers and runners, which the loopback bench
  // never needs.
  const { benchP2pd } = await import('../../natlab/src/bench-p2pd.js')
  return benchP2pd({
    trials: opts.trials,
    throughputTrials: opts.throughputTrials,
    shape: { upMs: opts.uplinkDelayMs, downMs: opts.uplinkDelayMs },
    throughputOnly: opts.throughputOnly,
    log: opts.log,
  })
}

/** Problems with a `lab` part, for {@link validate}'s caller. */
export function validateLab(lab: LabResults): string[] {
  const problems: string[] = []
  if (typeof lab.date !== 'string' || typeof lab.command !== 'string') problems.push('lab: meta')
  for (const r of [...lab.connect, ...lab.throughput]) {
    const f = r.figure
    if (f && !(f.min <= f.median && f.median <= f.max && f.n > 0 && f.median > 0))
      problems.push(`lab/${r.name}: not positive ordered figures`)
  }
  return problems
}
