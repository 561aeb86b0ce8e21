import { nodeTsArgv, srcFile } from '../node-in-ns.js'

/** Everything the lab gives a runner when it builds its command line. */
export interface RunnerContext {
  readonly role: 'A' | 'B'
  /** The runner's options (as given to the matrix or probe). */
  readonly options: Readonly<Record<string, unknown>>
}

/**
 * A strategy runner: how to start one side of a trial. The lab runs `argv` inside the side's
 * host namespace (`ip netns exec NS …argv`), with `env` added and `NATLAB_RUNNER_CONFIG` set,
 * and speaks the protocol of `protocol.ts` with it. Any language works; TypeScript runners use
 * {@link tsRunner}.
 */
export interface StrategyRunner {
  readonly name: string
  command(ctx: RunnerContext): { argv: string[]; env?: Record<string, string>; cwd?: string }
  /** How long one trial may take, start to result (default 15 s). */
  readonly timeoutMs?: number
  /** Default options, merged under the caller's. */
  readonly defaults?: Readonly<Record<string, unknown>>
}

/** A runner written in TypeScript: `file` is run by this Node through tsx. */
export function tsRunner(
  name: string,
  file: string,
  extra: Partial<Pick<StrategyRunner, 'timeoutMs' | 'defaults'>> = {},
): StrategyRunner {
  return { name, command: () => ({ argv: nodeTsArgv(file) }), ...extra }
}

/** Baseline: plain connect to the peer's public address and listen port. */
export const tcpDirect = tsRunner('tcp-direct', srcFile('runners/tcp-direct.ts'))
/** Baseline: plain TCP simultaneous open, predict once, retry on RST (jittered ~20 ms). */
export const tcpSimopen = tsRunner('tcp-simopen', srcFile('runners/tcp-simopen.ts'))

const registry = new Map<string, StrategyRunner>([
  [tcpDirect.name, tcpDirect],
  [tcpSimopen.name, tcpSimopen],
])

/** Adds a runner so `--strategies NAME` finds it (p2pd's own strategies register here). */
export function registerRunner(runner: StrategyRunner): void {
  registry.set(runner.name, runner)
}

export function getRunner(name: string): StrategyRunner | undefined {
  return registry.get(name)
}

export function runnerNames(): string[] {
  return [...registry.keys()]
}
