// `pnpm bench`: raw TCP, p2pd, js-libp2p and hyperdht side by side on loopback in one
// interleaved run, plus relayed vs direct and many idle pipes; writes bench-results.json and
// regenerates the README's performance section from it. See --help.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeArgs, start } from './child.js'
import type { ImplName } from './impl/index.js'
import { keepConnectRows, labResults, runLab } from './lab.js'
import { bulkWarmUpBytes, FULL, METRICS, type Metric, QUICK, type Sizes } from './measure.js'
import { HELP, type Options, parseOptions, RELAY_PATHS, type RelayPath } from './options.js'
import { ensurePeers } from './peers.js'
import { renderSection, spliceReadme } from './report.js'
import { type BenchResults, type MetricResult, summarize, validate } from './results.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..')
const log = (line: string) => process.stderr.write(`${line}\n`)

function titles(
  sizes: Sizes,
  idlePipes: number,
): Record<string, [string, string, 'higher' | 'lower']> {
  const n = (x: number) => x.toLocaleString('en-US')
  const mib = (bytes: number) => bytes / 1024 / 1024
  return {
    bulk: [
      `bulk ${mib(sizes.bulkBytes)} MiB one way (after ${mib(bulkWarmUpBytes(sizes))} MiB of warm-up), MB/s`,
      'MB/s',
      'higher',
    ],
    echo: [
      `${n(sizes.echoMessages)} × ${sizes.messageBytes} B echo, ${sizes.echoWindow} in flight, msg/s`,
      'msg/s',
      'higher',
    ],
    pingpong: [`${sizes.messageBytes} B ping-pong, µs per round trip`, 'µs', 'lower'],
    dial: ['dial → authenticated pipe, ms (median of ' + sizes.dials + ' dials)', 'ms', 'lower'],
    heap: [
      `heap per idle connection (${n(sizes.idleConnections)} open, dialling side), KiB`,
      'KiB',
      'lower',
    ],
    relayed: [
      `p2pd pipe ${sizes === QUICK ? 2 : 32} MiB one way, relayed on loopback, MB/s`,
      'MB/s',
      'higher',
    ],
    relayedCpu: [
      'the same transfers: CPU ms per MB, both peers + the relay server (lower is better; load-independent)',
      'ms/MB',
      'lower',
    ],
    idleHeap: [`${n(idlePipes)} idle p2pd pipes on one node: heap per pipe, KiB`, 'KiB', 'lower'],
    idleRss: [`${n(idlePipes)} idle p2pd pipes on one node: RSS per pipe, KiB`, 'KiB', 'lower'],
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

/** One measurement: a serving child and a measuring child, both fresh. */
async function measureOnce(impl: ImplName, metric: Metric, size: string): Promise<number> {
  const script = join(here, 'worker.ts')
  const built = { built: true }
  const server = start(process.execPath, nodeArgs(script, ['serve', impl, metric, size], built))
  try {
    const { address } = await server.line<{ address: string }>(60_000)
    const client = start(
      process.execPath,
      nodeArgs(script, ['measure', impl, metric, size, address], built),
    )
    try {
      return (await client.line<{ value: number }>(300_000)).value
    } finally {
      await client.stop()
    }
  } finally {
    await server.stop()
  }
}

async function relayedOnce(
  size: string,
  round: number,
  paths: readonly RelayPath[],
): Promise<{ rate: Record<string, number>; cpu: Record<string, number> }> {
  const args = [size, String(round), paths.join(',')]
  const child = start(process.execPath, nodeArgs(join(here, 'relayed.ts'), args))
  try {
    return await child.line(300_000)
  } finally {
    await child.stop()
  }
}

/** In its own shell with the fd limit raised as far as it goes (each end holds one per pipe). */
async function idleOnce(pipes: number) {
  const args = nodeArgs(join(here, 'idle.ts'), ['hold', String(pipes)], { built: true })
  const raise = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"'
  const child = start('bash', ['-c', raise, 'bash', process.execPath, ...args])
  try {
    return await child.line<{ pipes: number; heapKiB: number; rssKiB: number; fdLimit: number }>(
      900_000,
    )
  } finally {
    await child.stop()
  }
}

function outPath(opts: Options): string {
  if (opts.out) return opts.out
  return opts.quick ? join(tmpdir(), 'p2pd-bench-quick.json') : join(root, 'bench-results.json')
}

function writeReadme(results: BenchResults): void {
  const readmePath = join(root, 'README.md')
  writeFileSync(readmePath, spliceReadme(readFileSync(readmePath, 'utf8'), renderSection(results)))
  log(`README.md performance section regenerated`)
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2))
  if (opts.help) {
    console.log(HELP)
    return
  }
  const out = outPath(opts)
  if (opts.readmeOnly) {
    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchResults
    const problems = validate(results)
    if (problems.length) throw new Error(`${out}: ${problems.join('; ')}`)
    writeReadme(results)
    return
  }
  if (opts.lab) return labMain(opts, out)
  const loadStart = loadavg()
  // Workers load the working tree when they start: the code measured is what is checked out
  // during the run, so say which commit that was at the start (and at the end if it moved).
  const headAtStart = git(['rev-parse', '--short=12', 'HEAD']) || 'unknown'
  const dirtyAtStart = git(['status', '--porcelain', '--', 'packages']) !== ''
  const sizes = opts.quick ? QUICK : FULL
  const size = opts.quick ? 'quick' : 'full'
  const label = titles(sizes, opts.idlePipes)
  const implementations: Record<string, string> = {
    raw: 'Node net, loopback TCP',
    p2pd: "TCP + @p2pd/identity secure channel (Noise XX), as the node's direct strategy",
  }
  const impls: ImplName[] = ['raw', 'p2pd'].filter((i) =>
    opts.impls.includes(i as ImplName),
  ) as ImplName[]
  const missing: Record<string, string> = {}
  const wantsPeers = opts.impls.some((i) => i === 'libp2p' || i === 'hyperdht')
  const sideBySide = METRICS.filter((m) => opts.only.includes(m))
  if (wantsPeers && sideBySide.length) {
    const peers = ensurePeers(log)
    for (const name of ['libp2p', 'hyperdht'] as const) {
      if (!opts.impls.includes(name)) continue
      if (peers[name].available) {
        impls.push(name)
        implementations[name] =
          name === 'libp2p' ? `js-${peers[name].detail} (tcp + noise + yamux)` : peers[name].detail
      } else {
        implementations[name] = `missing: ${peers[name].detail}`
        missing[name] = peers[name].detail
        log(`${name} is missing: ${peers[name].detail}`)
      }
    }
  }

  const samples: Record<string, Record<string, number[]>> = {}
  const failures: Record<string, Record<string, string>> = {}
  const add = (metric: string, impl: string, value: number) => {
    const byImpl = samples[metric] ?? {}
    byImpl[impl] = [...(byImpl[impl] ?? []), value]
    samples[metric] = byImpl
  }
  const fail = (metric: string, impl: string, err: unknown) => {
    const why = err instanceof Error ? err.message : String(err)
    failures[metric] ??= {}
    failures[metric][impl] = why
    log(`  ${metric} ${impl} failed: ${why}`)
  }
  /** The results file from the samples so far. */
  const build = (roundsDone: number): BenchResults => {
    const metrics: Record<string, MetricResult> = {}
    for (const [metric, byImpl] of Object.entries(samples)) {
      const [title, unit, better] = label[metric] as [string, string, 'higher' | 'lower']
      const baseline =
        metric === 'relayed' || metric === 'relayedCpu'
          ? 'direct'
          : METRICS.includes(metric as Metric)
            ? 'raw'
            : undefined
      const base = baseline && byImpl[baseline] ? summarize(byImpl[baseline]).median : undefined
      const results = Object.fromEntries(
        Object.entries(byImpl).map(([impl, s]) => [
          impl,
          summarize(s, impl === baseline ? undefined : base),
        ]),
      )
      const gaps = { ...(METRICS.includes(metric as Metric) ? missing : {}), ...failures[metric] }
      metrics[metric] = {
        title,
        unit,
        better,
        ...(baseline ? { baseline } : {}),
        results,
        ...(Object.keys(gaps).length ? { missing: gaps } : {}),
      }
    }
    const head = git(['rev-parse', '--short=12', 'HEAD']) || 'unknown'
    return {
      schema: 1,
      date: new Date().toISOString(),
      command: `pnpm bench${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
      commit: {
        id: headAtStart,
        dirty: dirtyAtStart,
        ...(head !== headAtStart ? { atEnd: head } : {}),
      },
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        cores: cpus().length,
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        loadStart: loadStart.map((x) => Math.round(x * 100) / 100),
        loadEnd: loadavg().map((x) => Math.round(x * 100) / 100),
      },
      rounds: roundsDone,
      quick: opts.quick,
      implementations,
      metrics,
    }
  }
  for (let round = 0; round < opts.rounds; round++) {
    log(`round ${round + 1}/${opts.rounds}`)
    // Round-robin, starting one implementation later each round.
    const order = impls.map((_, i) => impls[(i + round) % impls.length] as ImplName)
    for (const metric of sideBySide) {
      for (const impl of order) {
        try {
          const value = await measureOnce(impl, metric, size)
          add(metric, impl, value)
          log(`  ${metric.padEnd(8)} ${impl.padEnd(8)} ${value.toFixed(2)} ${label[metric]?.[1]}`)
        } catch (err) {
          fail(metric, impl, err)
        }
      }
    }
    if (opts.only.includes('relayed') && opts.impls.includes('p2pd')) {
      try {
        const { rate, cpu } = await relayedOnce(size, round, opts.relayPaths)
        for (const path of RELAY_PATHS) if (rate[path]) add('relayed', path, rate[path])
        for (const path of RELAY_PATHS) if (cpu[path]) add('relayedCpu', path, cpu[path])
        const paths = opts.relayPaths
        log(`  relayed  ${paths.map((p) => `${p} ${rate[p]?.toFixed(1)}`).join(', ')} MB/s`)
        log(`  relayed  ${paths.map((p) => `${p} ${cpu[p]?.toFixed(2)}`).join(', ')} CPU ms/MB`)
      } catch (err) {
        fail('relayed', 'all', err)
      }
    }
    // Rounds so far, in case a long run is cut short.
    writeFileSync(`${out}.partial`, `${JSON.stringify(build(round + 1), null, 2)}\n`)
  }
  if (opts.only.includes('idle') && opts.impls.includes('p2pd')) {
    log(`idle: ${opts.idlePipes} pipes`)
    try {
      const r = await idleOnce(opts.idlePipes)
      add('idleHeap', 'p2pd', r.heapKiB)
      add('idleRss', 'p2pd', r.rssKiB)
      implementations.idle =
        `${r.pipes} pipes, each end in its own process; open-file limit ${r.fdLimit}` +
        (r.fdLimit < 65_536 ? ' (could not be raised to 65,536)' : '')
      log(
        `  heap ${r.heapKiB.toFixed(2)} KiB, RSS ${r.rssKiB.toFixed(2)} KiB per pipe (fd limit ${r.fdLimit})`,
      )
    } catch (err) {
      fail('idleHeap', 'p2pd', err)
    }
  }

  // The lab figures come from their own run (`--lab`): kept across loopback runs.
  const previous = existsSync(out)
    ? (JSON.parse(readFileSync(out, 'utf8')) as Partial<BenchResults>)
    : undefined
  const results: BenchResults = {
    ...build(opts.rounds),
    ...(previous?.lab ? { lab: previous.lab } : {}),
  }
  const problems = validate(results)
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  rmSync(`${out}.partial`, { force: true })
  log(`results: ${existsSync(out) ? relative(process.cwd(), out) || out : out}`)
  if (opts.readme) writeReadme(results)
  else process.stdout.write(`${renderSection(results)}\n`)
  if (problems.length) throw new Error(`results not well-formed: ${problems.join('; ')}`)
}

/** `--lab`: the NAT-lab figures, merged into the existing results file. */
async function labMain(opts: Options, out: string): Promise<void> {
  if (!existsSync(out)) throw new Error(`${out} does not exist: run pnpm bench first`)
  const loadStart = loadavg().map((x) => Math.round(x * 100) / 100)
  const commit = git(['rev-parse', '--short=12', 'HEAD']) || 'unknown'
  log(
    `lab: ${opts.labThroughputOnly ? 'throughput only' : `${opts.labTrials} trials per connect case`}, ${opts.labThroughputTrials} per throughput case, ` +
      `${opts.labDelayMs} ms each way per router uplink (load ${loadStart.join(' ')})`,
  )
  const raw = await runLab({
    trials: opts.labTrials,
    throughputTrials: opts.labThroughputTrials,
    uplinkDelayMs: opts.labDelayMs,
    throughputOnly: opts.labThroughputOnly,
    log: (line) => log(`  ${line}`),
  })
  const command = `pnpm bench ${process.argv.slice(2).join(' ')}`
  const previous = JSON.parse(readFileSync(out, 'utf8')) as BenchResults
  const lab = keepConnectRows(labResults(raw, { command, commit, loadStart }), previous.lab)
  const results = { ...previous, lab }
  const problems = validate(results)
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  log(`results: ${relative(process.cwd(), out) || out} (lab part)`)
  if (opts.readme) writeReadme(results)
  else process.stdout.write(`${renderSection(results)}\n`)
  if (problems.length) throw new Error(`results not well-formed: ${problems.join('; ')}`)
}

main().catch((err) => {
  log(`bench: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
