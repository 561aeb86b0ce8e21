import { deltaTypeName, type NatInfo, natTypeName, type StrategyName } from '@p2pd/interface'

/** What happened to one strategy during a connect. */
export interface StageReport {
  readonly strategy: StrategyName
  /** Why it was not tried (from `canTry`), if it was not. */
  readonly skipped?: string
  /** ms after the connect started. */
  readonly startedMs?: number
  readonly endedMs?: number
  readonly outcome: 'skipped' | 'won' | 'failed' | 'cancelled'
  readonly error?: { code?: string; message: string }
}

/** The story of one `connect()`: returned with the pipe, attached to the error otherwise. */
export interface ConnectionReport {
  readonly remotePeer: string
  readonly localNat: readonly NatInfo[]
  readonly remoteNat: readonly NatInfo[]
  readonly stages: readonly StageReport[]
  readonly winner?: StrategyName
  readonly totalMs: number
}

const natText = (n: NatInfo) =>
  `${natTypeName[n.type]}/${deltaTypeName[n.delta.type]}${n.delta.value ? `(${n.delta.value})` : ''}`

/** One human line per stage, for logs. */
export function formatReport(r: ConnectionReport): string {
  const lines = [
    `connect ${r.remotePeer.slice(0, 16)}… ${r.winner ? `via ${r.winner}` : 'FAILED'} in ${r.totalMs.toFixed(0)} ms`,
    `  nat: local [${r.localNat.map(natText).join(', ')}] remote [${r.remoteNat.map(natText).join(', ')}]`,
  ]
  for (const s of r.stages) {
    const t =
      s.startedMs !== undefined ? ` ${s.startedMs.toFixed(0)}→${s.endedMs?.toFixed(0)} ms` : ''
    const why = s.skipped ?? s.error?.message ?? ''
    lines.push(`  ${s.strategy.padEnd(8)} ${s.outcome}${t}${why ? ` (${why})` : ''}`)
  }
  return lines.join('\n')
}
