import {
  AbortError,
  abortReason,
  Deadline,
  type NatInfo,
  type PeerAddress,
  type Pipe,
  type RawConnection,
  type Strategy,
  type StrategyName,
} from '@p2pd/interface'
import { firewalledOnly } from './candidates.js'
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

/**
 * Head starts when both peers are behind firewalls only (`firewalledOnly`, candidates.ts): a direct dial
 * or a dial-back most likely dies at a firewall (dropped: it hangs out its head start), so the
 * punch starts beside them, not after 1.8 s (lab, IPv6 fw6 × fw6 at 25 ms per uplink: ~2 s
 * against ~0.5 s for two IPv4 cones, which skip both stages). They still race: a firewall
 * that lets TCP in wins through them, and only the nominated pipe is kept.
 */
export const firewalledHeadStartMs: Readonly<Record<string, number>> = {
  direct: 150,
  reverse: 50,
}

/** The head starts of a pipeline between two peers; those the caller gives win. */
export function headStartsFor(
  local: PeerAddress,
  remote: PeerAddress,
  given?: Readonly<Record<string, number>>,
): Record<string, number> {
  return {
    ...defaultHeadStartMs,
    ...(firewalledOnly(local, remote) ? firewalledHeadStartMs : {}),
    ...given,
  }
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

const noop = () => {}
const nats = (a: PeerAddress): NatInfo[] => [...a.ip4, ...a.ip6].map((i) => i.nat)

/**
 * Runs the strategies in order with per-stage deadlines and staggered starts; the first
 * authenticated pipe wins and every other attempt is cancelled (a late pipe is closed).
 * The next stage starts when the latest one's head start is over or when the latest one
 * fails. An earlier stage failing does not cut the latest one's head start: between two
 * firewalled peers (head starts 150/50 ms) a direct dial refused after one round trip
 * started TURN beside a punch begun a moment before, and at 100 ms per router TURN then won
 * 5 of 10 trials that the punch would have connected directly (lab, IPv6 fw6-rst × fw6-rst).
 */
export async function runPipeline(
  input: PipelineInput,
): Promise<{ pipe: Pipe; report: ConnectionReport }> {
  const t0 = performance.now()
  const since = () => performance.now() - t0
  const stageTimeout = { ...defaultStageTimeoutMs, ...input.stageTimeoutMs }
  const headStart = headStartsFor(input.local, input.remote, input.headStartMs)
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

  // Each stage owns its deadline (GC-safe: its own timer, strong references). The winner's is
  // disposed before the others are aborted, so the winning stage's signal never fires: a
  // strategy that closes its socket on abort keeps the connection it won.
  const live = new Set<Deadline>()

  return new Promise((resolve, reject) => {
    let next = 0
    let running = 0
    let settled = false
    let headTimer: NodeJS.Timeout | undefined

    const finish = (winner?: Deadline, err?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(headTimer)
      input.signal.removeEventListener('abort', onOuterAbort)
      winner?.dispose()
      live.delete(winner as Deadline)
      for (const stage of live) stage.abort(new AbortError('another strategy won'))
      live.clear()
      if (err) reject(err)
    }
    const onOuterAbort = () => finish(undefined, abortReason(input.signal))
    if (input.signal.aborted) return onOuterAbort()
    input.signal.addEventListener('abort', onOuterAbort, { once: true })

    const launch = () => {
      clearTimeout(headTimer)
      if (settled || next >= runnable.length) return
      const index = next++
      const strategy = runnable[index] as Strategy
      running++
      const startedMs = since()
      const stage = new Deadline(
        stageTimeout[strategy.name] ?? 10_000,
        input.signal,
        `${strategy.name} stage`,
      )
      live.add(stage)
      const wait = headStart[strategy.name] ?? 2_000
      if (Number.isFinite(wait)) headTimer = setTimeout(launch, wait)
      // race(): a strategy that ignores its signal still ends its stage on time; what it
      // delivers after its stage ended is closed, never leaked.
      const attempt = Promise.resolve().then(() => input.attempt(strategy, stage.signal))
      attempt.then((raw) => void (stage.aborted && raw.stream.destroy()), noop)
      stage
        .race(attempt)
        .then((raw) => {
          const secured = input.secure(raw, strategy, stage.signal)
          secured.then((pipe) => void (stage.aborted && pipe.close()), noop)
          return stage.race(secured)
        })
        .then(
          (pipe) => {
            running--
            if (settled) return void pipe.close()
            stages.push({ strategy: strategy.name, outcome: 'won', startedMs, endedMs: since() })
            const r = report(strategy.name)
            finish(stage)
            resolve({ pipe, report: r })
          },
          (err: Error & { code?: string }) => {
            running--
            stage.dispose()
            live.delete(stage)
            stages.push({
              strategy: strategy.name,
              outcome: settled ? 'cancelled' : 'failed',
              startedMs,
              endedMs: since(),
              error: { code: err.code, message: err.message },
            })
            if (settled) return
            if (next < runnable.length && (index === next - 1 || running === 0)) return launch()
            if (running === 0) {
              const why = stages
                .filter((s) => s.outcome === 'failed')
                .map((s) => `${s.strategy}: ${s.error?.message ?? 'failed'}`)
              finish(
                undefined,
                new ConnectError(`every strategy failed (${why.join('; ')})`, report()),
              )
            }
          },
        )
    }
    launch()
  })
}
