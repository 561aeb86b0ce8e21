/**
 * `pnpm lab bench-p2pd`: p2pd node figures in the NAT lab, all from one lab and one run —
 *
 * - **start**: node process spawn → peer address ready (`processToReadyMs`: Node + tsx start,
 *   STUN interface discovery, MQTT, SNTP) and `node.start()` alone (`nodeStartMs`);
 * - **time-to-connect per strategy**: the lab's figure (later side's start → later side holding
 *   its authenticated pipe) for `node-direct`, `node-reverse`, `node-punch`, `node-turn` and
 *   `node-auto` on a pair where that strategy applies;
 * - **throughput**: bulk bytes through the authenticated pipe, direct (`node-direct`), punched
 *   (`node-punch`) and relayed through our TURN server (`node-turn`), on the same pairs.
 *
 * Trials run one at a time (no competing cells) with the delay line on every uplink.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LinkShape } from './delayline.js'
import { nsRun, tool } from './exec.js'
import { describeColumn } from './report.js'
import { type P2pdNodeRunnerName, p2pdNodeRunner } from './runners/p2pd-runners.js'
import type { CellRecord, MatrixResults } from './schema.js'
import { defaultServers } from './servers.js'
import { p2pdServers } from './servers-p2pd.js'
import { Lab, type LabPeer } from './topology.js'
import { runTrial, type TrialResult } from './trial.js'

export interface BenchP2pdOptions {
  /** Trials per time-to-connect case (default 5). */
  readonly trials?: number
  /** Trials per throughput case (default 3). */
  readonly throughputTrials?: number
  /** Bytes per throughput trial (default 16 MiB: enough to leave slow start at 100 ms RTT, small
   *  enough for the 40 s runner timeout at ≥ 4 Mbit/s). */
  readonly throughputBytes?: number
  /** Delay line per router uplink (default 25 ms each way). `null`: none. */
  readonly shape?: LinkShape | null
  /**
   * TCP congestion control in the peers' namespaces (`net.ipv4.tcp_congestion_control`, one of
   * the host's `tcp_allowed_congestion_control`); default: what the kernel gives a new
   * namespace. It matters for punched pipes: with BBR, a simultaneous open can leave a
   * too-small min RTT that caps the window for BBR's 10 s min-RTT window (see the README).
   */
  readonly congestionControl?: string
  /** Skip the start and time-to-connect cases. */
  readonly throughputOnly?: boolean
  readonly log?: (m: string) => void
}

export interface BenchCase {
  readonly name: string
  readonly runner: P2pdNodeRunnerName
  readonly a: string
  readonly b: string
  readonly trials: number
  readonly successes: number
  readonly direct: number
  readonly winners: Record<string, number>
  readonly timeToConnectMs: Stats | null
  readonly mbitPerS?: Stats | null
  readonly failures: string[]
}

export interface Stats {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

export interface BenchP2pdResults {
  readonly startedAt: string
  readonly durationMs: number
  readonly shape: LinkShape | null
  /** The peers' TCP congestion control during the run. */
  readonly congestionControl: string
  readonly start: { processToReadyMs: Stats | null; nodeStartMs: Stats | null }
  readonly connect: BenchCase[]
  readonly throughput: BenchCase[]
}

export function stats(xs: readonly number[]): Stats | null {
  if (!xs.length) return null
  const s = [...xs].sort((x, y) => x - y)
  return {
    median: s[Math.floor(s.length / 2)] as number,
    min: s[0] as number,
    max: s[s.length - 1] as number,
    n: s.length,
  }
}

// biome-ignore lint/suspicious/noExplicitAny: runner detail is loosely typed JSON
const detailOf = (r: TrialResult, side: 'a' | 'b'): any => r[side].result?.detail ?? {}

/** Runs the benchmark in a fresh lab (root) and tears it down. */
export async function benchP2pd(opts: BenchP2pdOptions = {}): Promise<BenchP2pdResults> {
  const log = opts.log ?? (() => {})
  const trials = opts.trials ?? 5
  const tTrials = opts.throughputTrials ?? 3
  const bytes = opts.throughputBytes ?? 16 * 1024 * 1024
  const shape = opts.shape === undefined ? { upMs: 25, downMs: 25 } : opts.shape
  const startedAt = new Date()
  const lab = await Lab.up({
    peers: ['port-restricted-rst', 'open-drop', 'port-restricted-drop', 'sym-random-drop'],
    shape: shape ?? undefined,
    servers: [...defaultServers(), ...p2pdServers()],
    log,
  })
  const processToReady: number[] = []
  const nodeStart: number[] = []
  try {
    const [pr, open, prd, rnd] = lab.info.peers as [LabPeer, LabPeer, LabPeer, LabPeer]
    const run = async (
      name: string,
      runner: P2pdNodeRunnerName,
      a: LabPeer,
      b: LabPeer,
      n: number,
      options: Record<string, unknown> = {},
    ): Promise<BenchCase> => {
      const results: TrialResult[] = []
      for (let i = 0; i < n; i++) {
        const r = await runTrial(lab.info, p2pdNodeRunner(runner), a, b, { options })
        results.push(r)
        for (const side of ['a', 'b'] as const) {
          const d = detailOf(r, side)
          if (typeof d.processToReadyMs === 'number') processToReady.push(d.processToReadyMs)
          if (typeof d.nodeStartMs === 'number') nodeStart.push(d.nodeStartMs)
        }
      }
      const ok = results.filter((r) => r.ok)
      const winners: Record<string, number> = {}
      for (const r of ok)
        winners[r.winningStrategy ?? '?'] = (winners[r.winningStrategy ?? '?'] ?? 0) + 1
      const rates = ok
        .map((r) => detailOf(r, 'b').throughput?.mbitPerS)
        .filter((x): x is number => typeof x === 'number')
      const c: BenchCase = {
        name,
        runner,
        a: a.profile.name,
        b: b.profile.name,
        trials: n,
        successes: ok.length,
        direct: ok.filter((r) => r.direct).length,
        winners,
        timeToConnectMs: stats(ok.map((r) => r.timeToConnectMs ?? 0)),
        ...(options.throughputBytes ? { mbitPerS: stats(rates) } : {}),
        failures: results.filter((r) => !r.ok).map((r) => r.failureReason ?? '?'),
      }
      log(
        `${name}: ${c.successes}/${n} ok, ttc median ${c.timeToConnectMs?.median ?? '-'} ms` +
          (c.mbitPerS ? `, ${c.mbitPerS.median} Mbit/s` : ''),
      )
      return c
    }
    const peerNs = lab.info.peers.map((p) => p.ns.host)
    if (opts.congestionControl) {
      for (const ns of peerNs) {
        await nsRun(ns, tool('sysctl'), [
          '-q',
          '-w',
          `net.ipv4.tcp_congestion_control=${opts.congestionControl}`,
        ])
      }
    }
    const congestionControl = (
      await nsRun(peerNs[0] as string, tool('sysctl'), ['-n', 'net.ipv4.tcp_congestion_control'])
    ).stdout.trim()
    const connect = opts.throughputOnly
      ? []
      : [
          await run('direct (B open)', 'node-direct', pr, open, trials),
          await run('reverse (A open)', 'node-reverse', open, prd, trials),
          await run('punch (cone × cone)', 'node-punch', pr, prd, trials),
          await run('turn (random × cone)', 'node-turn', rnd, pr, trials),
          await run('auto: B open', 'node-auto', pr, open, trials),
          await run('auto: A open', 'node-auto', open, prd, trials),
          await run('auto: cone × cone', 'node-auto', pr, prd, trials),
          await run('auto: random × cone', 'node-auto', rnd, pr, trials),
        ]
    const t = { throughputBytes: bytes }
    const throughput = [
      await run('direct (TCP, B open)', 'node-direct', pr, open, tTrials, t),
      await run('relayed (our TURN, same pair)', 'node-turn', pr, open, tTrials, t),
      // What a node chooses by default: at this round trip, coturn's UDP relay (its TCP legs
      // have fixed 64 KiB buffers; @p2pd/turn relay-choice.ts).
      await run('relayed (coturn, same pair)', 'node-turn', pr, open, tTrials, {
        ...t,
        turnServer: 'coturn',
      }),
      // The two relay transports forced, for comparison: coturn's window-capped TCP relay, and
      // our server's UDP relay (the same reliable stream as coturn's default row above).
      await run('relayed (coturn, TCP forced, same pair)', 'node-turn', pr, open, tTrials, {
        ...t,
        turnServer: 'coturn',
        turnTcp: true,
      }),
      await run('relayed (our TURN, UDP forced, same pair)', 'node-turn', pr, open, tTrials, {
        ...t,
        turnTcp: false,
      }),
      await run('punched (TCP, cone × cone)', 'node-punch', pr, prd, tTrials, t),
      await run('relayed (our TURN, cone × cone)', 'node-turn', pr, prd, tTrials, t),
    ]
    return {
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      shape,
      congestionControl,
      start: { processToReadyMs: stats(processToReady), nodeStartMs: stats(nodeStart) },
      connect,
      throughput,
    }
  } finally {
    await lab.down()
  }
}

const fmtStats = (s: Stats | null | undefined, unit = '') =>
  s ? `${s.median}${unit} (${s.min}–${s.max}, n=${s.n})` : '–'

/** The results as Markdown (the node README's "Lab results" figures). */
export function benchMarkdown(r: BenchP2pdResults): string {
  const shape = r.shape ? `${r.shape.upMs} ms each way per router uplink` : 'no delay line'
  const lines = [
    `Benchmark (\`pnpm lab bench-p2pd\`), ${r.startedAt.slice(0, 10)}, ${shape}, TCP congestion control ${r.congestionControl}, one trial at a time:`,
  ]
  // --throughput-only runs have no connect cases: leave their tables out.
  if (r.connect.length)
    lines.push(
      '',
      '| node start | median (min–max, n) |',
      '|---|---|',
      `| process spawn → peer address ready | ${fmtStats(r.start.processToReadyMs, ' ms')} |`,
      `| \`node.start()\` (STUN discovery, MQTT, listener) | ${fmtStats(r.start.nodeStartMs, ' ms')} |`,
      '',
      '| time-to-connect | runner | A × B | ok | verified direct | winner | median (min–max) |',
      '|---|---|---|---|---|---|---|',
      ...r.connect.map(
        (c) =>
          `| ${c.name} | ${c.runner} | ${c.a} × ${c.b} | ${c.successes}/${c.trials} | ${c.direct} | ${Object.entries(
            c.winners,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')} | ${fmtStats(c.timeToConnectMs, ' ms')} |`,
      ),
    )
  lines.push(
    '',
    '| throughput (authenticated pipe) | runner | A × B | ok | Mbit/s median (min–max) |',
    '|---|---|---|---|---|',
    ...r.throughput.map(
      (c) =>
        `| ${c.name} | ${c.runner} | ${c.a} × ${c.b} | ${c.successes}/${c.trials} | ${fmtStats(c.mbitPerS)} |`,
    ),
    '',
  )
  return lines.join('\n')
}

/** Writes `bench-p2pd.json` and `bench-p2pd.md` into `outDir`. */
export function writeBench(outDir: string, r: BenchP2pdResults): string[] {
  mkdirSync(outDir, { recursive: true })
  const json = join(outDir, 'bench-p2pd.json')
  const md = join(outDir, 'bench-p2pd.md')
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`)
  writeFileSync(md, benchMarkdown(r))
  return [json, md]
}

/**
 * A compact Markdown grid of one delay column of a matrix run for the node README: per cell
 * successes/trials, the winning strategy (every winner with its count when they differ),
 * verified-direct count and the median time-to-connect; then a summary per winning strategy.
 * `column`: a `ColumnRecord.name` (default: the first column).
 */
export function matrixSummaryMarkdown(
  r: MatrixResults,
  strategy = 'node-auto',
  column?: string,
): string {
  const col = r.columns.find((c) => c.name === column) ?? r.columns[0]
  const cells = r.cells.filter((c) => c.strategy === strategy && c.column === col?.name)
  const at = (a: string, b: string) => cells.find((c) => c.a === a && c.b === b)
  const cellText = (c: CellRecord | undefined) => {
    if (!c) return ''
    const wins: Record<string, number> = {}
    for (const t of c.runs)
      if (t.ok) wins[t.winningStrategy ?? '?'] = (wins[t.winningStrategy ?? '?'] ?? 0) + 1
    const w = Object.entries(wins)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => (Object.keys(wins).length > 1 ? `${k}×${v}` : k))
      .join('+')
    const ms =
      c.medianTimeToConnectMs === null ? '' : ` · ${Math.round(c.medianTimeToConnectMs)} ms`
    const d =
      c.directSuccesses === c.successes
        ? ''
        : c.directSuccesses
          ? ` (${c.directSuccesses} direct)`
          : ''
    return `${c.successes}/${c.trials} ${w || '–'}${d}${ms}`
  }
  const L = [
    `\`${strategy}\`, ${r.startedAt.slice(0, 10)}, ${r.trialsPerCell} trials per cell, ` +
      (col ? describeColumn(col) : 'no delay line') +
      `, self-check ${r.selfCheck.ok ? 'passed' : 'FAILED'}. Rows: A (connects), columns: B (accepts). ` +
      "Cell: successes/trials, winning strategy, median time-to-connect (later side's start → " +
      'later side holding its authenticated pipe). Every `direct`/`reverse`/`punch` win was ' +
      'verified direct by the lab (observed addresses + conntrack) unless marked.',
    '',
    `| A \\ B | ${r.profiles.join(' | ')} |`,
    `|---|${r.profiles.map(() => '---').join('|')}|`,
    ...r.profiles.map(
      (a) => `| **${a}** | ${r.profiles.map((b) => cellText(at(a, b))).join(' | ')} |`,
    ),
    '',
  ]
  const runs = cells.flatMap((c) => c.runs)
  const ok = runs.filter((t) => t.ok)
  const byWinner = new Map<string, number[]>()
  for (const t of ok) {
    const k = t.winningStrategy ?? '?'
    byWinner.set(k, [...(byWinner.get(k) ?? []), t.timeToConnectMs ?? 0])
  }
  const worst = [...cells].sort((x, y) => x.successes / x.trials - y.successes / y.trials)[0]
  L.push(
    `Summary: ${ok.length}/${runs.length} trials connected (${runs.length ? ((100 * ok.length) / runs.length).toFixed(1) : 0} %); ` +
      `${cells.filter((c) => c.successes / c.trials >= 0.95).length}/${cells.length} cells at ≥ 95 %` +
      (worst ? ` (lowest: ${worst.a} × ${worst.b} ${worst.successes}/${worst.trials})` : '') +
      `; ${ok.filter((t) => t.direct).length} verified direct, ${ok.filter((t) => t.path === 'relayed').length} relayed.`,
    '',
    '| winner | trials | median time-to-connect (min–max) |',
    '|---|---|---|',
    ...[...byWinner.entries()].map(([k, xs]) => {
      const s = stats(xs) as Stats
      return `| ${k} | ${xs.length} | ${Math.round(s.median)} ms (${Math.round(s.min)}–${Math.round(s.max)}) |`
    }),
    '',
  )
  const failures = runs.filter((t) => !t.ok)
  if (failures.length) {
    L.push('Failed trials:', '')
    for (const c of cells)
      for (const t of c.runs.filter((x) => !x.ok))
        L.push(`- ${c.a} × ${c.b} #${t.index}: ${t.failureReason}`)
    L.push('')
  }
  return L.join('\n')
}
