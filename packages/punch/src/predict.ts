import { DeltaType, NatType } from '@p2pd/interface'
import { predictPorts } from '@p2pd/nat'
import type { Mapping, NatRecord } from './protocol/messages.js'

/**
 * The external ports our *next* connections are expected to get, best first, from
 * `@p2pd/nat`'s `predictPorts` and the mapping we just observed (and still hold).
 *
 * - Endpoint-independent mapping (open, cone kinds) and `equal`/`preserving` deltas: the held
 *   port is reused for every destination, so the mapping itself is the target: `[]`.
 * - Symmetric with an `independent`/`dependent` delta δ: the k-th new connection gets
 *   `last + k·δ` (wrapped inside the NAT's range). Each connect attempt from the punching side
 *   spends one of these ports, which is why the peer dials all `count` of them (lab finding:
 *   retries spend ports).
 * - Symmetric random: nothing to predict: `[]`.
 */
export function predictCandidates(
  nat: NatRecord,
  held: readonly Mapping[],
  count: number,
): number[] {
  const last = held[held.length - 1]
  if (!last || !isSequentialSymmetric(nat) || count < 1) return []
  const prediction = predictPorts({
    ours: nat,
    // Only a random peer changes the plan (spraying), and punch refuses those pairs earlier.
    theirs: nat,
    observed: { local: { host: last.ext.host, port: last.local }, mapped: last.ext },
    count,
  })
  return prediction.candidates.map((c) => c.externalPort)
}

/** True when our next connections' external ports can be predicted (sequential symmetric). */
export function isSequentialSymmetric(nat: NatRecord): boolean {
  return (
    nat.type === NatType.Symmetric &&
    (nat.delta.type === DeltaType.Independent || nat.delta.type === DeltaType.Dependent) &&
    nat.delta.value !== 0
  )
}
