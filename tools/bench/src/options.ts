// Command line of `pnpm bench`.
import { IMPL_NAMES, type ImplName } from './impl/index.js'
import { METRICS } from './measure.js'

export const EXTRA_METRICS = ['relayed', 'idle'] as const
export const ALL_METRICS = [...METRICS, ...EXTRA_METRICS] as const
export type AnyMetric = (typeof ALL_METRICS)[number]
/** The paths of the relayed metric; `direct` is its baseline. */
export const RELAY_PATHS = [
  'direct',
  'turnserver-tcp',
  'coturn-tcp',
  'turnserver',
  'coturn',
] as const
export type RelayPath = (typeof RELAY_PATHS)[number]

export interface Options {
  readonly quick: boolean
  readonly rounds: number
  readonly only: readonly AnyMetric[]
  /** Paths of the relayed metric (`--relay-paths`; `direct` always runs: the baseline). */
  readonly relayPaths: readonly RelayPath[]
  readonly impls: readonly ImplName[]
  readonly idlePipes: number
  readonly out: string | undefined
  readonly readme: boolean
  readonly readmeOnly: boolean
  readonly help: boolean
  /** `--lab`: the NAT-lab figures only, merged into the results file. */
  readonly lab: boolean
  readonly labTrials: number
  readonly labThroughputTrials: number
  readonly labDelayMs: number
  /** `--lab-throughput-only`: skip the time-to-connect cases. */
  readonly labThroughputOnly: boolean
}

export const HELP = `pnpm bench [options]   side-by-side benchmark on loopback, results in bench-results.json

  --quick              small sizes, 1 round; writes to a temporary file, leaves the README alone
  --rounds N           rounds (default 3; implementations interleaved round-robin)
  --only m1,m2         metrics: ${ALL_METRICS.join(', ')} (default all)
  --relay-paths a,b    paths of the relayed metric: ${RELAY_PATHS.join(', ')} (default all;
                       direct always runs, as the baseline)
  --impl a,b           implementations: ${IMPL_NAMES.join(', ')} (default all; raw is always run)
  --idle-pipes N       pipes held by the idle metric (default 10000, --quick 300)
  --out FILE           results file (default bench-results.json at the repo root)
  --no-readme          do not regenerate the README's performance section
  --readme-only        regenerate the README section from the existing results file, measure nothing
  --lab                the NAT-lab figures instead (root): time to connect per strategy and
                       relayed vs direct throughput at --lab-delay; merged into the results file
  --lab-trials N       trials per time-to-connect case (default 5)
  --lab-throughput-trials N   trials per throughput case (default 3)
  --lab-delay MS       one-way delay of every router uplink (default 25: 100 ms peer RTT)
  --lab-throughput-only   the throughput cases only (direct vs relayed, ~3 min instead of ~7)
  --help               this text

js-libp2p and hyperdht are installed on first use into tools/bench/.deps (pinned in
tools/bench/deps); without them the bench still runs and says why they are missing.
Progress goes to stderr.`

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(',').filter(Boolean)
  for (const item of items)
    if (!allowed.includes(item as T))
      throw new Error(`unknown ${what} "${item}" (${allowed.join(', ')})`)
  return items as T[]
}

export function parseOptions(argv: readonly string[]): Options {
  const flag = (name: string) => argv.includes(name)
  const value = (name: string) => {
    const i = argv.indexOf(name)
    if (i < 0) return undefined
    const v = argv[i + 1]
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`)
    return v
  }
  const known = new Set([
    '--quick',
    '--rounds',
    '--only',
    '--relay-paths',
    '--impl',
    '--idle-pipes',
    '--out',
    '--no-readme',
    '--readme-only',
    '--help',
    '-h',
    '--lab',
    '--lab-trials',
    '--lab-throughput-trials',
    '--lab-delay',
    '--lab-throughput-only',
  ])
  const withValue = [
    '--rounds',
    '--only',
    '--relay-paths',
    '--impl',
    '--idle-pipes',
    '--out',
    '--lab-trials',
    '--lab-throughput-trials',
    '--lab-delay',
  ]
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (!known.has(a)) throw new Error(`unknown option ${a} (see --help)`)
    if (withValue.includes(a)) i++
  }
  const quick = flag('--quick')
  const impls = value('--impl')
    ? list(value('--impl') as string, IMPL_NAMES, 'implementation')
    : [...IMPL_NAMES]
  const rounds = Number(value('--rounds') ?? (quick ? 1 : 3))
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error('--rounds must be a positive integer')
  const idlePipes = Number(value('--idle-pipes') ?? (quick ? 300 : 10_000))
  if (!Number.isInteger(idlePipes) || idlePipes < 1)
    throw new Error('--idle-pipes must be a positive integer')
  const count = (name: string, def: number, min: number) => {
    const n = Number(value(name) ?? def)
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`)
    return n
  }
  return {
    quick,
    rounds,
    only: value('--only')
      ? list(value('--only') as string, ALL_METRICS, 'metric')
      : [...ALL_METRICS],
    relayPaths: [
      'direct',
      ...list(value('--relay-paths') ?? RELAY_PATHS.join(','), RELAY_PATHS, 'relay path').filter(
        (p) => p !== 'direct',
      ),
    ],
    impls: impls.includes('raw') ? impls : ['raw', ...impls],
    idlePipes,
    out: value('--out'),
    readme: !flag('--no-readme') && !quick,
    readmeOnly: flag('--readme-only'),
    help: flag('--help') || flag('-h'),
    lab: flag('--lab'),
    labTrials: count('--lab-trials', 5, 1),
    labThroughputTrials: count('--lab-throughput-trials', 3, 1),
    labDelayMs: count('--lab-delay', 25, 0),
    labThroughputOnly: flag('--lab-throughput-only'),
  }
}
