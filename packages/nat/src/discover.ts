import { DeltaType, type NatInfo } from '@p2pd/interface'
import type { BehaviourOptions } from './behaviour-options.js'
import { type DeltaResult, measureDelta } from './delta-sampler.js'
import { discoverTcpBehaviour } from './tcp-behaviour.js'
import type { BehaviourResult, FilteringBehaviour, MappingBehaviour, Transport } from './types.js'
import { discoverUdpBehaviour } from './udp-behaviour.js'

/** Options of {@link discoverNat}. */
export interface DiscoverNatOptions extends Omit<BehaviourOptions, 'duringFilterWindow'> {
  /** Default `'udp'`. */
  readonly transport?: Transport
  /**
   * Measure the port delta (default true; skipped when there is no NAT). The serial samples
   * run after the mapping tests, inside the filtering window, on the primary server.
   */
  readonly delta?: boolean | { readonly samples?: number; readonly runLength?: number }
}

/** Wall-clock timings of one {@link discoverNat}, ms. */
export interface NatTimings {
  readonly totalMs: number
  readonly mappingMs: number
  readonly filteringMs?: number
  readonly hairpinMs?: number
  readonly deltaMs?: number
  readonly rttMs: number
}

/** What {@link discoverNat} found for one transport and local address. */
export interface NatDiscovery {
  readonly transport: Transport
  /** P2PD's record for the peer address (type code, delta, range). */
  readonly natInfo: NatInfo
  readonly mapping: MappingBehaviour
  readonly filtering: FilteringBehaviour
  readonly preserving: boolean | null
  readonly hairpin: boolean | null
  readonly delta?: DeltaResult
  /** Every detail of the behaviour tests. */
  readonly behaviour: BehaviourResult
  readonly timings: NatTimings
}

/**
 * Classifies the NAT in front of one local address for one transport: RFC 5780 mapping and
 * filtering (UDP; TCP mapping only), port preservation, hairpinning and the port delta, all
 * under one deadline (default 3 s; a classification takes well under 1 s at 25 ms RTT).
 *
 * @example
 * ```ts
 * const d = await discoverNat({ servers: ['stun.example.net:3478'], transport: 'udp' })
 * console.log(d.natInfo, d.mapping, d.filtering, d.delta?.model, d.timings.totalMs)
 * ```
 */
export async function discoverNat(opts: DiscoverNatOptions): Promise<NatDiscovery> {
  const transport = opts.transport ?? 'udp'
  let delta: DeltaResult | undefined
  const deltaOpts = typeof opts.delta === 'object' ? opts.delta : {}
  const behaviourOpts: BehaviourOptions = {
    ...opts,
    ...(opts.delta === false
      ? {}
      : {
          duringFilterWindow: async (ctx) => {
            if (!ctx.natted) return
            delta = await measureDelta({
              server: ctx.server,
              transport,
              ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
              ...(opts.family !== undefined ? { family: opts.family } : {}),
              ...deltaOpts,
              rttMs: ctx.rttMs,
              signal: ctx.signal,
            }).catch((err: unknown) => {
              if (opts.signal?.aborted) throw err
              return undefined
            })
          },
        }),
  }
  const behaviour =
    transport === 'udp'
      ? await discoverUdpBehaviour(behaviourOpts)
      : await discoverTcpBehaviour(behaviourOpts)
  return assemble(behaviour, delta)
}

/** Joins a behaviour result and a delta measurement into a {@link NatDiscovery}. */
export function assemble(behaviour: BehaviourResult, delta?: DeltaResult): NatDiscovery {
  const t = behaviour.timings
  return {
    transport: behaviour.transport,
    natInfo: natInfoOf(behaviour, delta),
    mapping: behaviour.mapping,
    filtering: behaviour.filtering,
    preserving: behaviour.preserving,
    hairpin: behaviour.hairpin,
    ...(delta ? { delta } : {}),
    behaviour,
    timings: {
      totalMs: t.totalMs,
      mappingMs: t.mappingMs,
      ...(t.filteringMs !== undefined ? { filteringMs: t.filteringMs } : {}),
      ...(t.hairpinMs !== undefined ? { hairpinMs: t.hairpinMs } : {}),
      ...(delta ? { deltaMs: delta.ms } : {}),
      rttMs: t.rttMs,
    },
  }
}

/**
 * The peer-address record of a behaviour and delta: no NAT → delta "not applicable"; a NAT
 * whose delta was not measured → P2PD's default (random, 0). The signed delta value is kept.
 */
export function natInfoOf(behaviour: BehaviourResult, delta?: DeltaResult): NatInfo {
  // A measured TCP filter (and SYN policy) rides along locally; a punch tells the peer.
  const tcp =
    behaviour.transport === 'tcp' && behaviour.filteringSource === 'measured'
      ? { tcp: { filtering: behaviour.filtering, synPolicy: behaviour.synPolicy ?? 'unknown' } }
      : {}
  if (behaviour.natted !== true) {
    return { type: behaviour.natType, delta: { type: DeltaType.NotApplicable, value: 0 }, ...tcp }
  }
  if (!delta)
    return { type: behaviour.natType, delta: { type: DeltaType.Random, value: 0 }, ...tcp }
  return {
    type: behaviour.natType,
    delta: { type: delta.type, value: delta.value },
    ...(delta.range ? { range: delta.range } : {}),
    ...tcp,
  }
}
