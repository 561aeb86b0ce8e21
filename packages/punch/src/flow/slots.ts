import { NatType } from '@p2pd/interface'
import type { DialPair, LocalSide, SideInfo } from '../plan.js'
import { isSequentialSymmetric } from '../predict.js'
import type { NatRecord } from '../protocol/messages.js'
import type { ListenSide } from './dials.js'

/**
 * Turns for a sequential-symmetric side against a cone when both NATs answer refused SYNs with
 * RST, on a short path. Each NAT then holds its entry for a tuple only while its own SYN is in
 * flight (the peer's RST closes it), so the two SYNs of one tuple must cross within about one
 * round trip — and the sequential side cannot make up for it with fast retries, because every
 * attempt spends one of its predicted ports (lab: 1,877 attempts by the cone, 8 by the
 * sequential side, none crossed at ~0 ms). So both take turns on one shared clock: in slot k
 * the sequential side sends one SYN, at the slot's middle, from its k-th predicted port; the
 * cone fast-retries to that port only, for the whole slot. A slot covers both clocks'
 * disagreement and the one-way delay on either side of the middle.
 */
export interface Slots {
  readonly pairs: DialPair[]
  /** Start offset of each pair (by index) after the start. */
  readonly offsets: number[]
  /** How long one pair keeps trying after its start (the cone's turn). */
  readonly activeMs?: number
  readonly slotMs: number
  readonly role: 'sequential' | 'cone'
}

/**
 * Cap of the one-way delay a slot allows for. The plan's one-way figure is read off the offer
 * and includes the offer's proof-of-work stamp (hundreds of ms on a loaded machine), so it
 * only bounds the path from above; a longer path needs no more, since there each NAT's entry
 * stays open for the whole round trip of its SYN anyway.
 */
const MAX_SLOT_ONE_WAY_MS = 10

/**
 * Ports a sequential side announces when it knows the pair takes turns (it answers an offer
 * from an RST cone): one turn each, so more turns than the default eight predictions.
 */
export const SLOT_PREDICTIONS = 32

/** Turns start this long after the instant: a side that read the plan late keeps every turn. */
export const SLOT_SLACK_MS = 60

const isCone = (n: NatRecord) =>
  n.type === NatType.RestrictedCone || n.type === NatType.PortRestrictedCone

/** The length of one turn, when the pair takes turns (else `undefined`). */
export function slotLength(
  me: NatRecord,
  peer: NatRecord,
  listen: ListenSide,
  oneWayMs: number,
  uncertaintyMs: number,
): number | undefined {
  if (listen !== 'none') return undefined
  if (me.tcp?.synPolicy !== 'rst' || peer.tcp?.synPolicy !== 'rst') return undefined
  const mixed =
    (isSequentialSymmetric(me) && isCone(peer)) || (isCone(me) && isSequentialSymmetric(peer))
  if (!mixed) return undefined
  const oneWay = Math.min(MAX_SLOT_ONE_WAY_MS, Math.max(0, oneWayMs))
  return Math.round(Math.max(8, 2 * (Math.max(0, uncertaintyMs) + oneWay) + 4))
}

/** The turns of one side (see {@link Slots}), or `undefined` when the pair does not take any. */
export function slotDials(
  me: LocalSide,
  peer: SideInfo,
  listen: ListenSide,
  oneWayMs: number,
  uncertaintyMs: number,
  /** Fresh local ports for the sequential side's turns (else its held port, turn after turn). */
  fresh: readonly number[] = [],
): Slots | undefined {
  const slotMs = slotLength(me.nat, peer.nat, listen, oneWayMs, uncertaintyMs)
  const first = me.locals[0]
  const target = peer.mappings[0]
  if (slotMs === undefined || first === undefined || !target) return undefined
  if (me.candidatePorts.length > 0) {
    const pairs = me.candidatePorts.map((_, index) => ({
      localPort: fresh[index] ?? first,
      remote: target,
      index,
      maxAttempts: 1,
    }))
    const offsets = pairs.map((_, k) => Math.round(SLOT_SLACK_MS + k * slotMs + slotMs / 2))
    return { pairs, offsets, slotMs, role: 'sequential' }
  }
  const pairs = peer.candidatePorts.map((port, index) => ({
    localPort: first,
    remote: { host: target.host, port },
    index,
    maxAttempts: Number.POSITIVE_INFINITY,
  }))
  const offsets = pairs.map((_, k) => SLOT_SLACK_MS + k * slotMs)
  return { pairs, offsets, activeMs: slotMs, slotMs, role: 'cone' }
}
