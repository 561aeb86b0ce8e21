import type { HeldMappings } from '../mappings.js'
import type { Settings } from '../options.js'
import {
  type DialPair,
  dialPairs,
  type LocalSide,
  type SideInfo,
  samePairs,
  sprayRole,
} from '../plan.js'
import type { Acceptor, NatRecord } from '../protocol/messages.js'
import { defaults } from '../schedule.js'
import { evenOffsets, probeDelay, randomPorts, type SprayChoice, sprayChoice } from '../spray.js'
import { type Slots, slotDials } from './slots.js'

/** Who listens, seen from one side: `me`, the `peer`, or nobody (simultaneous open). */
export type ListenSide = 'me' | 'peer' | 'none'

/** Who listens, from `role`'s point of view, given the plan's acceptor. */
export const listenSide = (acceptor: Acceptor, role: Acceptor): ListenSide =>
  acceptor === 'none' ? 'none' : acceptor === role ? 'me' : 'peer'

/** Our part in a birthday spray and its budget, when the pair sprays. */
export interface SprayPart {
  readonly role: 'hard' | 'easy'
  readonly choice: SprayChoice
}

/** The timing a spray schedule needs. */
export interface SprayTiming {
  readonly windowMs: number
  readonly oneWayMs: number
  readonly uncertaintyMs: number
}

/** A spray's own schedule: per-pair offsets and the cap of one attempt. */
export interface Sprayed {
  readonly offsets: number[]
  readonly attemptTimeoutMs: number
}

/** Our side as announced: its NAT, mappings, local ports and predicted ports. */
export const localSide = (
  nat: NatRecord,
  held: HeldMappings,
  candidatePorts: number[],
): LocalSide => ({
  nat,
  mappings: held.mappings.map((m) => m.ext),
  locals: held.mappings.map((m) => m.local),
  candidatePorts,
})

/**
 * Our spray part, when nobody listens and the pair is random × port-restricted. The NAT
 * records are the ones each side acts on (the peer's may carry the port range).
 */
export function sprayPart(
  s: Settings,
  listen: ListenSide,
  myNat: NatRecord,
  peerNat: NatRecord,
): SprayPart | undefined {
  const role = listen === 'none' ? sprayRole(myNat, peerNat) : undefined
  if (!role) return undefined
  return { role, choice: sprayChoice((role === 'hard' ? myNat : peerNat).range, s.init.spray) }
}

/** The window a spray needs: the probes, started late enough, plus one capped attempt. */
export const sprayWindow = (
  s: Settings,
  choice: SprayChoice,
  oneWayMs: number,
  uncertaintyMs: number,
) =>
  probeDelay(choice.openMs, uncertaintyMs, oneWayMs) +
  choice.probeMs +
  (s.init.attemptTimeoutMs ?? defaults.attemptTimeoutMs)

/**
 * The spray schedule of one side: which pairs, when each fires, how long an attempt lives.
 * Hard (random) side: every fresh socket dials the cone's held mapping, opened at
 * `socketsPerSecond`; attempts are never cut (a SYN_SENT socket keeps its mapping alive) and
 * retried after a RST (each retry is a new random mapping). Easy (cone) side: one SYN per
 * guessed port from its held port, at `probesPerSecond`, starting once the random mappings
 * exist; one attempt each, capped.
 */
export function sprayDial(
  s: Settings,
  { role, choice }: SprayPart,
  me: LocalSide,
  spray: readonly number[],
  peer: SideInfo,
  timing: SprayTiming,
): Sprayed & { pairs: DialPair[] } {
  const target = peer.mappings[0]
  const held = me.locals[0]
  if (!target || held === undefined) return { pairs: [], offsets: [], attemptTimeoutMs: 0 }
  if (role === 'hard') {
    const pairs = spray.map((localPort, index) => ({
      localPort,
      remote: target,
      index,
      maxAttempts: Number.POSITIVE_INFINITY,
    }))
    const perSecond = (pairs.length * 1000) / Math.max(1, choice.openMs)
    return {
      pairs,
      offsets: evenOffsets(pairs.length, perSecond),
      attemptTimeoutMs: timing.windowMs,
    }
  }
  const pairs = randomPorts(choice.range, choice.probes).map((port, index) => ({
    localPort: held,
    remote: { host: target.host, port },
    index,
    maxAttempts: 1,
  }))
  const delay = probeDelay(choice.openMs, timing.uncertaintyMs, timing.oneWayMs)
  const perSecond = (pairs.length * 1000) / Math.max(1, choice.probeMs)
  return {
    pairs,
    offsets: evenOffsets(pairs.length, perSecond, delay),
    attemptTimeoutMs: s.init.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
  }
}

/** The pairs this side dials when it does not spray, given who (if anyone) listens. */
export function plainDials(
  me: LocalSide,
  peer: SideInfo,
  listen: ListenSide,
  uncertaintyMs = 0,
): DialPair[] {
  if (listen === 'me') return []
  if (listen === 'none') return dialPairs(me, peer, Number.POSITIVE_INFINITY, uncertaintyMs)
  // The peer listens on every held port: dial them all; retries are free.
  return samePairs(me, peer, Number.POSITIVE_INFINITY)
}

/** Everything this side dials: the spray schedule if it sprays, else the plain pairs. */
export function dials(
  s: Settings,
  part: SprayPart | undefined,
  me: LocalSide,
  spray: readonly number[],
  peer: SideInfo,
  listen: ListenSide,
  timing: SprayTiming,
): { pairs: DialPair[]; sprayed?: Sprayed; slots?: Slots } {
  if (!part) {
    const slots = s.turns
      ? slotDials(me, peer, listen, timing.oneWayMs, timing.uncertaintyMs, spray)
      : undefined
    if (slots) return { pairs: slots.pairs, slots }
    return { pairs: plainDials(me, peer, listen, timing.uncertaintyMs) }
  }
  const { pairs, ...sprayed } = sprayDial(s, part, me, spray, peer, timing)
  return { pairs, sprayed }
}
