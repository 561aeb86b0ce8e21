import { DeltaType, NatType } from '@p2pd/interface'
import type { Mapping, NatRecord } from './protocol/messages.js'

/**
 * Port prediction, internal to this package until `@p2pd/nat` ships its `predictPorts`: the
 * one function to swap. Given our NAT and the mappings we just observed (and still hold), the
 * external ports our *next* connections are expected to get, best first.
 *
 * - Endpoint-independent mapping (open, cone kinds) and `equal`/`preserving` deltas: the held
 *   port is reused for every destination, so the mapping itself is the target: `[]`.
 * - Symmetric with an `independent`/`dependent` delta δ: the k-th new connection gets
 *   `last + k·δ`. Each connect attempt from the punching side spends one of these ports,
 *   which is why the peer dials all `count` of them (lab finding: retries spend ports).
 * - Symmetric random: nothing to predict: `[]`.
 */
export function predictCandidates(
  nat: NatRecord,
  held: readonly Mapping[],
  count: number,
): number[] {
  if (nat.type !== NatType.Symmetric) return []
  const { type, value } = nat.delta
  if ((type !== DeltaType.Independent && type !== DeltaType.Dependent) || value === 0) return []
  const last = held[held.length - 1]
  if (!last) return []
  const out: number[] = []
  for (let k = 1; out.length < count && k <= count * 2; k++) {
    const p = last.ext.port + k * value
    if (p >= 1 && p <= 65535) out.push(p)
  }
  return out
}

/** True when our next connections' external ports can be predicted (sequential symmetric). */
export function isSequentialSymmetric(nat: NatRecord): boolean {
  return (
    nat.type === NatType.Symmetric &&
    (nat.delta.type === DeltaType.Independent || nat.delta.type === DeltaType.Dependent) &&
    nat.delta.value !== 0
  )
}
