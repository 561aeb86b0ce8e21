import { type Endpoint, NatType } from '@p2pd/interface'
import { natTypeFor } from './decision.js'
import type { BehaviourResult, Transport } from './types.js'

/** Assembles a result: the NAT type code and port preservation follow from the verdicts. */
export function buildBehaviourResult(
  r: Omit<BehaviourResult, 'natType' | 'preserving'>,
): BehaviourResult {
  return {
    ...r,
    preserving: r.natted && r.mapped ? r.mapped.port === r.local.port : null,
    natType: natTypeFor(true, r.mapping, r.filtering),
  }
}

/** The result when no server answered test I: code 7. */
export function blockedResult(
  transport: Transport,
  family: 4 | 6,
  server: Endpoint,
  local: Endpoint,
  started: number,
  notes: string[],
): BehaviourResult {
  const totalMs = performance.now() - started
  return {
    transport,
    family,
    server,
    alternateSource: 'none',
    local,
    natted: null,
    mapping: 'unknown',
    filtering: 'unknown',
    filteringSource: 'none',
    preserving: null,
    hairpin: null,
    natType: NatType.Blocked,
    observations: { mapping: { local }, filtering: {} },
    timings: { totalMs, mappingMs: totalMs, rttMs: Number.NaN },
    notes,
  }
}
