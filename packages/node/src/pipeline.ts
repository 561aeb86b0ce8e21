import {
  abortReason,
  type NatInfo,
  type PeerAddress,
  type Pipe,
  type RawConnection,
  type Strategy,
  type StrategyName,
} from '@p2pd/interface'
import { NodeError } from './errors.js'
import type { ConnectionReport, StageReport } from './report.js'

/** Time a stage may take on its own, per strategy name, before it fails (ms). */
export const defaultStageTimeoutMs: Readonly<Record<string, number>> = {
  direct: 4_000,
  reverse: 6_000,
  punch: 10_000,
  turn: 15_000,
}

/**
 * How long a stage runs alone before the next one is started beside it (ms). Cheap, fast
 * strategies get a short head start; racing is safe because only the nominated pipe is kept.
 */
export const defaultHeadStartMs: Readonly<Record<string, number>> = {
  direct: 300,
  reverse: 1_500,
  punch: 5_000,
  turn: Number.POSITIVE_INFINITY,
}

export interface PipelineInput {
  readonly local: PeerAddress
  readonly remote: PeerAddress
  readonly strategies: readonly Strategy[]
  /** Runs one strategy's connect. */
  readonly attempt: (strategy: Strategy, signal: AbortSignal) => Promise<RawConnection>
  /** Authenticates a raw connection (secure channel with the expected peer). */
  readonly secure: (raw: RawConnection, strategy: Strategy, signal: AbortSignal) => Promise<Pipe>
  readonly signal: AbortSignal
  readonly stageTimeoutMs?: Readonly<Record<string, number>>
  readonly headStartMs?: Readonly<Record<string, number>>
}

/** Thrown when every strategy failed or was skipped; carries the report. */
export class ConnectError extends NodeError {
  constructor(
    message: string,
    readonly report: ConnectionReport,
  ) {
    super('NODE_CONNECT_FAILED', message)
  }
}

const nats = (a: PeerAddress): NatInfo[] => [...a.ip4, ...a.ip6].map((i) => i.nat)

/**
 * Runs the strategies in order with per-stage deadlines and staggered starts; the first
 * authenticated pipe wins and every other attempt is cancelled (a late pipe is closed).
 */
export async function runPipeline(
  input: PipelineInput,
): Promise<{ pipe: Pipe; report: ConnectionReport }> {
  const t0 = performance.now()
  const since = () => performance.now() - t0
  const stageTimeout = { ...defaultStageTimeoutMs, ...input.stageTimeoutMs }
  const headStart = { ...defaultHeadStartMs, ...input.headStartMs }
  const stages: StageReport[] = []
  const runnable: Strategy[] = []
  for (const s of input.strategies) {
    const verdict = s.canTry(input.local, input.remote)
    if (verdict === true) runnable.push(s)
    else stages.push({ strategy: s.name, outcome: 'skipped', skipped: verdict })
  }
  const report = (winner?: StrategyName): ConnectionReport => ({
    remotePeer: input.remote.nodeId,
    localNat: nats(input.local),
    remoteNat: nats(input.remote),
    stages: [...stages],
    winner,
    totalMs: since(),
  })
  if (runnable.length === 0) {
    throw new ConnectError('no strategy can reach this peer', report())
  }

  const cancelAll = new AbortController()
  const overall = AbortSignal.any([input.signal, cancelAll.signal])

  return new Promise((resolve, reject) => {
    let next = 0
    let running = 0
    let settled = false
    let headTimer: NodeJS.Timeout | undefined

    const finish = (err?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(headTimer)
      cancelAll.abort()
      if (err) reject(err)
    }
    const onOuterAbort = () => finish(abortReason(input.signal))
    input.signal.addEventListener('abort', onOuterAbort, { once: true })

    const launch = () => {
      clearTimeout(headTimer)
      if (settled || next >= runnable.length) return
      const strategy = runnable[next++] as Strategy
      running++
      const startedMs = since()
      const stageSignal = AbortSignal.any([
        overall,
        AbortSignal.timeout(stageTimeout[strategy.name] ?? 10_000),
      ])
      const wait = headStart[strategy.name] ?? 2_000
      if (Number.isFinite(wait)) headTimer = setTimeout(launch, wait)
      input
        .attempt(strategy, stageSignal)
        .then((raw) => input.secure(raw, strategy, stageSignal))
        .then(
          (pipe) => {
            running--
            if (settled) return void pipe.close()
            stages.push({ strategy: strategy.name, outcome: 'won', startedMs, endedMs: since() })
            input.signal.removeEventListener('abort', onOuterAbort)
            const r = report(strategy.name)
            finish()
            resolve({ pipe, report: r })
          },
          (err: Error & { code?: string }) => {
            running--
            stages.push({
              strategy: strategy.name,
              outcome: settled ? 'cancelled' : 'failed',
              startedMs,
              endedMs: since(),
              error: { code: err.code, message: err.message },
            })
            if (settled) return
            if (next < runnable.length) return launch()
            if (running === 0) {
              input.signal.removeEventListener('abort', onOuterAbort)
              finish(new ConnectError('every strategy failed', report()))
            }
          },
        )
    }
    launch()
  })
}
