/**
 * `pnpm lab <command>`: the NAT lab CLI (root, Linux).
 *
 *   up [--profiles LIST] [--delay MS] [--jitter MS] [--loss P] [--foreground]
 *   selfcheck [--prefix P] [--profiles LIST] [--delay MS] [--json]
 *   nat-check [--profiles LIST] [--prefix P] [--parallel N] [--timeout MS] [--retries N] [--dist]
 *             [--delay MS] [--json] [--markdown]
 *   down [--prefix P] [--all-stale]
 *   status
 *   matrix [--profiles LIST] [--strategies LIST] [--trials N] [--delay MS] [--out DIR]
 *          [--parallel N] [--no-retry] [--deadline MS] [--unordered] [--delay-b MS] [--jitter MS]
 *          [--delays LIST] [--asymmetric A:B,…] [--pairs A×B,…]
 *   readme [FILE] [--readme PATH] [--svg PATH] [--strategy S] [--note TEXT]
 *   probe [NAME…|all] [--delay MS]
 *   bench-p2pd [--trials N] [--throughput-trials N] [--bytes N] [--delay MS] [--out DIR]
 *              [--cc NAME] [--throughput-only]
 */
import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { benchMarkdown, benchP2pd, matrixSummaryMarkdown, writeBench } from './bench-p2pd.js'
import type { LinkShape } from './delayline.js'
import { NatlabError } from './errors.js'
import { requireRoot } from './exec.js'
import { readmeSection, spliceReadme } from './lab-readme.js'
import { type MatrixColumn, runMatrix } from './matrix.js'
import { newRunPrefix } from './naming.js'
import { natCheck, natCheckMarkdown, rowLine } from './nat-check.js'
import { nodeTsArgv, PACKAGE_DIR } from './node-in-ns.js'
import { PROBE_NAMES, type ProbeName, runProbes } from './probes.js'
import { ALL_PROFILES, parseProfileList } from './profiles.js'
import { runnerNames } from './runners/index.js'
import './runners/p2pd-runners.js' // registers node-direct, node-reverse, node-punch, node-turn, node-auto
import { validateResults } from './schema.js'
import { type SelfCheckReport, selfCheck } from './selfcheck.js'
import { defaultServers } from './servers.js'
import { p2pdServers } from './servers-p2pd.js'
import { listStates, ownerAlive, readState, stateDir } from './state.js'
import { renderMatrixSvg } from './svg.js'
import { attachLab, downRun, downStale, Lab, runningLabs } from './topology.js'

const USAGE = `usage: pnpm lab <command> [options]
  up         build a lab and keep it running (detached; --foreground to stay attached)
             --profiles LIST (default: all ${ALL_PROFILES.length}) --delay MS --jitter MS --loss P
             --p2pd (add our STUN, SNTP, TURN servers; IPv6 twins when a profile has IPv6)
  selfcheck  classify every router of the running lab (or of a temporary one) [--prefix P] [--json]
  nat-check  run \`p2pd nat --json\` in a host behind each profile (a lab of its own, our RFC 5780
             STUN server) and compare with the profile: mapping, ports, UDP and TCP filtering,
             SYN policy drop/rst, type code; one line per profile, exit 1 on any mismatch
             --profiles LIST (default: all ${ALL_PROFILES.length}) --prefix P --parallel N (4)
             --timeout MS (p2pd nat --timeout, 8000) --retries N (1: a wrong read is run again)
             --dist (the built packages/cli/dist/bin.js; default: its source through tsx)
             --delay MS --json --markdown (the table for the READMEs)
  down       tear a lab down [--prefix P] | --all-stale (only runs whose owner died)
  status     list runs
  matrix     profile × profile × strategy grid: --profiles LIST --strategies LIST (${runnerNames().join(', ')})
             --trials N (3) --delay MS (0) --out DIR (natlab-results) --parallel N (1) --no-retry --deadline MS
             --unordered (each pair once: A × B with A no later than B in the list)
             --delay-b MS (column/B-side routers' one-way delay instead of --delay: asymmetric paths)
             --jitter MS (uniform 0…MS extra per frame, order kept) --loss P
             --delays 0,5,25,100 (one column per delay, each its own lab; all in one results file)
             --asymmetric 5:80,80:5 (more columns: A's routers 5 ms, B's 80 ms one-way)
             --pairs A×B,A×B (only these ordered pairs; 'x' works for '×')
             --tolerate-rtt (a self-check whose only faults are round trips above the configured
             delay, as on a loaded machine, is recorded and the run goes on)
             node-* strategies add the p2pd servers (STUN, SNTP, TURN) to the lab
  probe      physics probes: ${PROBE_NAMES.join(', ')} | all  [--delay MS (25)]
  bench-p2pd p2pd node: start time, time-to-connect per strategy, direct vs TURN throughput
             --trials N (5) --throughput-trials N (3) --bytes N (16 MiB) --delay MS (25) --out DIR
             --cc NAME (TCP congestion control in the peers, e.g. reno) --throughput-only
  p2pd-table FILE  the node README's grid of a matrix run's natlab-results.json [--strategy node-auto]
             [--column NAME]
  readme [FILE]  write the SVG grid and the node README's generated matrix section from FILE
             (natlab-results/natlab-results.json): --readme PATH (packages/node/README.md)
             --svg PATH (packages/node/docs/lab-matrix.svg) --strategy S --note TEXT
profiles: KIND[-drop|-rst][+hairpin][+cgnat][+lan2][+portmap][+v6]; KIND = open, full-cone, restricted,
  port-restricted, eim-range, sym-seqK, sym-random, fw6 (IPv6 only, stateful firewall);
  +v6 = dual-stack; LIST is comma-separated, 'all' (IPv4) or 'all6' (fw6-drop,fw6-rst).`

interface Args {
  _: string[]
  flags: Map<string, string | true>
}

function parseArgs(argv: string[]): Args {
  const out: Args = { _: [], flags: new Map() }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined]
      const next = argv[i + 1]
      if (v !== undefined) out.flags.set(k, v)
      else if (next !== undefined && !next.startsWith('--') && !BOOLEAN.has(k)) {
        out.flags.set(k, next)
        i++
      } else out.flags.set(k, true)
    } else out._.push(a)
  }
  return out
}

const BOOLEAN = new Set([
  'foreground',
  'json',
  'all-stale',
  'no-retry',
  'help',
  'throughput-only',
  'unordered',
  'p2pd',
  'tolerate-rtt',
  'dist',
  'markdown',
])

const str = (a: Args, k: string) => {
  const v = a.flags.get(k)
  return typeof v === 'string' ? v : undefined
}
const num = (a: Args, k: string, d?: number) => {
  const v = str(a, k)
  if (v === undefined) return d
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new NatlabError('NATLAB_USAGE', `--${k} needs a number`)
  return n
}

function shapeOf(a: Args, defDelay = 0, delayFlag = 'delay'): LinkShape | undefined {
  const delay = num(a, delayFlag, defDelay) ?? 0
  const jitter = num(a, 'jitter', 0) ?? 0
  const loss = num(a, 'loss', 0) ?? 0
  if (!delay && !jitter && !loss) return undefined
  return { upMs: delay, downMs: delay, jitterMs: jitter, loss }
}

const log = (m: string) => process.stderr.write(`${m}\n`)

function printSelfCheck(r: SelfCheckReport): void {
  for (const p of r.peers) {
    const o = p.observed
    const fmt = (x?: { mapping: string; ports: string; filtering: string }) =>
      x ? `${x.mapping}/${x.ports}/${x.filtering}` : '?'
    const rtt = p.rtt ? ` rtt ${p.rtt.configuredMs}→${p.rtt.observedMedianMs}ms` : ''
    // A dual-stack peer's IPv6 side (an IPv6-only peer's line is its IPv6 side already).
    const v6 = p.ipv6
    const ipv6 =
      v6 && p.rtt
        ? `\n     ipv6 udp ${fmt(v6.observed.udp)} tcp ${fmt(v6.observed.tcp)} syn ${v6.observed.syn ?? '?'}`
        : ''
    console.log(
      `${p.ok ? 'ok  ' : 'FAIL'} ${p.peer.padEnd(3)} ${p.profile.padEnd(30)} udp ${fmt(o.udp)} tcp ${fmt(o.tcp)} syn ${o.syn ?? '?'} hairpin ${o.hairpin ?? '-'}${rtt}${ipv6}` +
        (p.ok ? '' : `\n     ${p.mismatches.join('\n     ')}`),
    )
  }
  console.log(
    `self-check ${r.ok ? 'passed' : 'FAILED (lab fault)'}: ${r.peers.length} router(s), ${r.ms} ms`,
  )
}

async function cmdUp(a: Args): Promise<void> {
  const profiles = parseProfileList(str(a, 'profiles') ?? 'all').map((p) => p.name)
  const shape = shapeOf(a)
  if (!a.flags.has('foreground')) {
    // Detach: a child owns the lab (and its processes) until `pnpm lab down` stops it.
    requireRoot()
    const prefix = newRunPrefix()
    const logFile = join(stateDir(), `${prefix.slice(0, -1)}.log`)
    const fd = openSync(logFile, 'a')
    const args = process.argv.slice(2).concat(['--foreground', '--prefix', prefix])
    const child = spawn(
      nodeTsArgv(join(PACKAGE_DIR, 'src', 'cli.ts'))[0] as string,
      nodeTsArgv(join(PACKAGE_DIR, 'src', 'cli.ts'), args).slice(1),
      {
        cwd: PACKAGE_DIR,
        detached: true,
        stdio: ['ignore', fd, fd],
      },
    )
    closeSync(fd)
    child.unref()
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline) {
      const s = readState(prefix)
      if (s?.status === 'up') {
        console.log(`lab ${prefix} is up (owner pid ${s.ownerPid}, log ${logFile})`)
        console.log(`namespaces: ${s.namespaces.join(' ')}`)
        console.log('next: pnpm lab selfcheck · pnpm lab down')
        return
      }
      if (
        child.exitCode !== null ||
        (s === undefined && Date.now() > deadline - 110_000 && child.pid && !isAlive(child.pid))
      )
        throw new NatlabError('NATLAB_COMMAND', `lab failed to come up; see ${logFile}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new NatlabError('NATLAB_COMMAND', `lab not up after 120 s; see ${logFile}`)
  }
  const lab = await Lab.up({
    peers: profiles,
    shape,
    prefix: str(a, 'prefix'),
    // --p2pd: our own STUN, SNTP and TURN servers too (IPv6 twins of STUN/SNTP in a v6 lab).
    servers: a.flags.has('p2pd') ? [...defaultServers(), ...p2pdServers()] : undefined,
    log,
  })
  console.log(
    `lab ${lab.prefix} is up (pid ${process.pid}); Ctrl-C or 'pnpm lab down' tears it down`,
  )
  for (const p of lab.info.peers)
    console.log(
      `  ${p.label.padEnd(3)} ${p.profile.name.padEnd(30)} public ${p.publicIp.padEnd(14)} host ${p.hostIp.padEnd(10)} ns ${p.ns.host}${p.hostIp6 ? ` ipv6 ${p.hostIp6} (router ${p.ns.router})` : ''}`,
    )
  setInterval(() => {}, 1 << 30)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function cmdSelfcheck(a: Args): Promise<number> {
  requireRoot()
  let report: SelfCheckReport
  const prefix = str(a, 'prefix')
  if (prefix || runningLabs().length > 0) {
    report = await selfCheck(attachLab(prefix), { log })
  } else {
    log('no running lab: building a temporary one')
    const lab = await Lab.up({
      peers: parseProfileList(str(a, 'profiles') ?? 'all').map((p) => p.name),
      shape: shapeOf(a),
      log,
    })
    try {
      report = await selfCheck(lab.info, { log })
    } finally {
      await lab.down()
    }
  }
  if (a.flags.has('json')) console.log(JSON.stringify(report, null, 2))
  else printSelfCheck(report)
  return report.ok ? 0 : 1
}

async function cmdNatCheck(a: Args): Promise<number> {
  requireRoot()
  const report = await natCheck({
    profiles: [str(a, 'profiles') ?? 'all'],
    ...(str(a, 'prefix') ? { prefix: str(a, 'prefix') } : {}),
    shape: shapeOf(a),
    cli: a.flags.has('dist') ? 'dist' : 'source',
    parallel: num(a, 'parallel', 4),
    natTimeoutMs: num(a, 'timeout', 8000),
    retries: num(a, 'retries', 1),
    log,
    // Rows as they come in; plain output prints them again in peer order.
    onRow: (r) => log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.peer} ${r.profile} (${r.ms} ms)`),
  })
  if (a.flags.has('json')) console.log(JSON.stringify(report, null, 2))
  else if (a.flags.has('markdown')) console.log(natCheckMarkdown(report))
  else for (const r of report.rows) console.log(rowLine(r))
  const bad = report.rows.filter((r) => !r.ok).length
  console.log(
    `nat-check ${bad ? `FAILED: p2pd nat (${report.cli}) read ${bad} of ${report.rows.length} profile(s) wrong` : `passed: p2pd nat (${report.cli}) read all ${report.rows.length} profile(s) right`}, ${report.ms} ms`,
  )
  return bad ? 1 : 0
}

async function cmdDown(a: Args): Promise<void> {
  requireRoot()
  if (a.flags.has('all-stale')) {
    const { removed, orphans } = await downStale()
    console.log(removed.length ? `removed stale run(s): ${removed.join(' ')}` : 'no stale runs')
    if (orphans.length)
      console.log(`left alone (no state file, owner unknown): ${orphans.join(' ')}`)
    return
  }
  const prefix = str(a, 'prefix')
  const states = listStates()
  const targets = prefix ? [prefix] : states.map((s) => s.prefix)
  if (!prefix && targets.length > 1)
    throw new NatlabError(
      'NATLAB_USAGE',
      `several runs exist (${targets.join(', ')}): pass --prefix`,
    )
  if (targets.length === 0) {
    console.log('no lab to tear down')
    return
  }
  for (const p of targets) {
    await downRun(p)
    console.log(`lab ${p} is down`)
  }
}

function cmdStatus(): void {
  const states = listStates()
  if (!states.length) console.log('no runs')
  for (const s of states)
    console.log(
      `${s.prefix} ${s.status} owner ${s.ownerPid} ${ownerAlive(s) ? 'alive' : 'DEAD (stale: pnpm lab down --all-stale)'} ${s.namespaces.length} namespace(s) since ${s.createdAt}`,
    )
}

async function cmdMatrix(a: Args): Promise<number> {
  const profiles = parseProfileList(
    str(a, 'profiles') ??
      'open-drop,full-cone-drop,restricted-drop,port-restricted-drop,port-restricted-rst,sym-seq1-drop,sym-random-drop',
  ).map((p) => p.name)
  const strategies = (str(a, 'strategies') ?? runnerNames().join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const options: Record<string, unknown> = {}
  if (a.flags.has('no-retry')) options.retryOnRst = false
  const deadline = num(a, 'deadline')
  if (deadline !== undefined) options.deadlineMs = deadline
  // --unordered: each pair once (A × B with A no later than B in --profiles), half the grid.
  const pairs = a.flags.has('unordered')
    ? profiles.flatMap((p, i) => profiles.slice(i).map((q) => [p, q] as const))
    : str(a, 'pairs')
      ? (str(a, 'pairs') as string).split(',').map((x) => {
          const ab = x.trim().split(/[×x]/)
          if (ab.length !== 2) throw new NatlabError('NATLAB_USAGE', `--pairs: '${x}' is not A×B`)
          return ab as [string, string]
        })
      : undefined
  const columns = matrixColumns(a)
  const results = await runMatrix({
    profiles,
    strategies,
    ...(pairs ? { pairs } : {}),
    trials: num(a, 'trials', 3),
    ...(columns
      ? { columns }
      : {
          shape: shapeOf(a),
          // --delay-b: the B side's routers get their own delay (with the same jitter and loss).
          ...(a.flags.has('delay-b') ? { shapeB: shapeOf(a, 0, 'delay-b') ?? null } : {}),
        }),
    command: `matrix ${process.argv.slice(3).join(' ')}`,
    tolerateRtt: a.flags.has('tolerate-rtt'),
    outDir: str(a, 'out') ?? 'natlab-results',
    parallel: num(a, 'parallel', 1),
    options,
    servers: strategies.some((s) => s.startsWith('node-'))
      ? [...defaultServers(), ...p2pdServers()]
      : undefined,
    log,
  })
  const ok = results.cells.filter((c) => c.outcome === 'direct').length
  console.log(
    `matrix: ${results.cells.length} cell(s), ${ok} direct, ${results.durationMs} ms → ${str(a, 'out') ?? 'natlab-results'}/natlab-results.{json,md,html}`,
  )
  return 0
}

/** `--delays 0,5,25 --asymmetric 5:80`: one column per entry (jitter and loss apply to all). */
function matrixColumns(a: Args): MatrixColumn[] | undefined {
  const delays = str(a, 'delays')
  const asym = str(a, 'asymmetric')
  if (!delays && !asym) return undefined
  const jitterMs = num(a, 'jitter', 0) ?? 0
  const loss = num(a, 'loss', 0) ?? 0
  const shape = (ms: number): LinkShape | undefined =>
    ms || jitterMs || loss ? { upMs: ms, downMs: ms, jitterMs, loss } : undefined
  const msOf = (x: string, flag: string) => {
    const n = Number(x)
    if (x.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new NatlabError('NATLAB_USAGE', `--${flag}: '${x}' is not a delay in ms`)
    return n
  }
  const cols: MatrixColumn[] = []
  for (const d of delays ? delays.split(',') : []) cols.push({ shape: shape(msOf(d, 'delays')) })
  for (const pair of asym ? asym.split(',') : []) {
    const [x, y, ...more] = pair.split(':')
    if (x === undefined || y === undefined || more.length)
      throw new NatlabError('NATLAB_USAGE', `--asymmetric: '${pair}' is not A_MS:B_MS`)
    const sa = shape(msOf(x, 'asymmetric'))
    cols.push({ shape: sa, shapeB: shape(msOf(y, 'asymmetric')) ?? null })
  }
  return cols
}

/** `pnpm lab readme`: the SVG grid and the README's generated section from a results file. */
function cmdReadme(a: Args): number {
  const file = a._[0] ?? 'natlab-results/natlab-results.json'
  const r = validateResults(JSON.parse(readFileSync(file, 'utf8')))
  const readmePath =
    str(a, 'readme') ?? join(PACKAGE_DIR, '..', '..', 'packages', 'node', 'README.md')
  const svgPath = str(a, 'svg') ?? join(dirname(readmePath), 'docs', 'lab-matrix.svg')
  const strategy = str(a, 'strategy') ?? 'node-auto'
  mkdirSync(dirname(svgPath), { recursive: true })
  writeFileSync(svgPath, renderMatrixSvg(r, { strategy }))
  const section = readmeSection(r, {
    strategy,
    svgPath: relative(dirname(readmePath), svgPath),
    ...(str(a, 'note') ? { note: str(a, 'note') } : {}),
  })
  writeFileSync(readmePath, spliceReadme(readFileSync(readmePath, 'utf8'), section))
  log(`wrote ${svgPath} and the generated section of ${readmePath}`)
  return 0
}

async function cmdProbe(a: Args): Promise<number> {
  const names = (a._.length === 0 || a._.includes('all') ? PROBE_NAMES : a._) as ProbeName[]
  const results = await runProbes(names, { shape: shapeOf(a, 25), log })
  for (const r of results) {
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.a} ↔ ${r.b}): ${r.description}`)
    for (const c of r.cases)
      console.log(
        `     skew ${String(c.skewMs).padStart(5)} ms: ${c.connected ? `connected in ${c.timeToConnectMs} ms` : `no connection (${c.failureReason})`} — expected ${c.expect}`,
      )
  }
  return results.every((r) => r.ok) ? 0 : 1
}

async function cmdBenchP2pd(a: Args): Promise<number> {
  requireRoot()
  const delay = num(a, 'delay', 25) ?? 25
  const r = await benchP2pd({
    trials: num(a, 'trials', 5),
    throughputTrials: num(a, 'throughput-trials', 3),
    throughputBytes: num(a, 'bytes'),
    shape: delay > 0 ? { upMs: delay, downMs: delay } : null,
    ...(str(a, 'cc') ? { congestionControl: str(a, 'cc') as string } : {}),
    throughputOnly: a.flags.has('throughput-only'),
    log,
  })
  const files = writeBench(str(a, 'out') ?? 'natlab-results', r)
  console.log(benchMarkdown(r))
  log(`wrote ${files.join(', ')}`)
  return 0
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2)
  const a = parseArgs(rest)
  // `pnpm lab <command> --help` prints the usage and does nothing else (a matrix is hours).
  if (a.flags.has('help') || a.flags.has('h')) {
    console.log(USAGE)
    return 0
  }
  switch (cmd) {
    case 'up':
      await cmdUp(a)
      return -1
    case 'selfcheck':
      return cmdSelfcheck(a)
    case 'nat-check':
      return cmdNatCheck(a)
    case 'down':
      await cmdDown(a)
      return 0
    case 'status':
      cmdStatus()
      return 0
    case 'matrix':
      return cmdMatrix(a)
    case 'probe':
      return cmdProbe(a)
    case 'bench-p2pd':
      return cmdBenchP2pd(a)
    case 'p2pd-table':
      // The node README's grid of a matrix run: pnpm lab p2pd-table DIR/natlab-results.json
      console.log(
        matrixSummaryMarkdown(
          validateResults(
            JSON.parse(readFileSync(a._[0] ?? 'natlab-results/natlab-results.json', 'utf8')),
          ),
          str(a, 'strategy') ?? 'node-auto',
          str(a, 'column'),
        ),
      )
      return 0
    case 'readme':
      return cmdReadme(a)
    default:
      console.log(USAGE)
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (err) => {
    if (err instanceof NatlabError) {
      console.error(`natlab: ${err.message} [${err.code}]`)
      process.exit(err.code === 'NATLAB_LAB_FAULT' ? 3 : err.code === 'NATLAB_USAGE' ? 2 : 1)
    }
    console.error(err)
    process.exit(1)
  },
)
