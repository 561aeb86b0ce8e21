import { createServer } from 'node:net'
import { DeltaType, NatType } from '@p2pd/interface'
import { HeldMappings } from '../mappings.js'
import type { Settings } from '../options.js'
import { chooseAcceptor, type DialPair, type InterfacePair, sprayRole } from '../plan.js'
import type { NatRecord, PunchMode } from '../protocol/messages.js'
import { freePorts } from '../sockets/free-port.js'
import { slotLength } from './slots.js'

/**
 * Dial first: the offerer dials before it offers, so the crossing needs no meeting instant.
 *
 * Against a port-preserving cone that silently drops refused SYNs, the offerer can tell where
 * the answerer's mappings will be before any answer: it proposes the local ports the answerer
 * should use (`PunchOffer.dialing`), and dials the answerer's external IP at those ports at
 * once. Its SYNs die at the answerer's NAT, but each waits in SYN_SENT with our mapping open
 * toward the proposed port. An answerer that can bind every proposed port answers and dials at
 * once: its SYNs find our mappings open — they were made before the offer left, whatever the
 * clocks say — and cross into our waiting sockets. So neither side waits for a meeting
 * instant, and the instant's margin for the clocks' disagreement (tens to hundreds of ms) is
 * not paid. An answerer that cannot (or does not know the field) answers as usual with its
 * own ports, and the offerer stops its early dials and follows the answer's plan.
 *
 * The offerer rarely knows the answerer's SYN policy (peer addresses do not carry it), so
 * the answerer decides: it takes the proposed ports only when its own NAT drops refused SYNs.
 * Behind a NAT that answers them with RST it answers with its own ports; our early SYNs then
 * met RSTs (fast retries keep our mappings open meanwhile) and are stopped on the answer.
 */

const isCone = (n: NatRecord) =>
  n.type === NatType.RestrictedCone || n.type === NatType.PortRestrictedCone

/** True when the answerer's mapping of a fresh local port is its external IP and that port. */
export const portPreservingCone = (n: NatRecord) => isCone(n) && n.delta.type === DeltaType.Equal

/**
 * Whether the offerer dials first (see above): answer-and-go on, a remote simultaneous open
 * between a cone of ours and a port-preserving cone not known to RST refused SYNs, no spray
 * and no turns.
 */
export function dialsFirst(
  s: Settings,
  mode: PunchMode,
  mine: NatRecord,
  theirs: NatRecord,
): boolean {
  return (
    s.dialFirst &&
    s.answerAndGo &&
    s.predictPreserving &&
    mode === 'remote' &&
    isCone(mine) &&
    portPreservingCone(theirs) &&
    theirs.tcp?.synPolicy !== 'rst' &&
    chooseAcceptor(mode, mine, theirs) === 'none' &&
    sprayRole(mine, theirs) === undefined &&
    !(s.turns && slotLength(mine, theirs, 'none', 0, 0) !== undefined)
  )
}

/**
 * The local ports we propose to the answerer: free here (none of ours), so most likely free
 * there too — ephemeral ports nobody listens on.
 */
export function proposePorts(
  host: string,
  count: number,
  ours: readonly number[],
  signal: AbortSignal,
): Promise<number[]> {
  return freePorts(host, count, ours, signal)
}

/** True when `port` can be bound on `host` right now (bound and released at once). */
function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/**
 * The answerer's side: when it would announce port-preserving mappings anyway, and every port
 * the offer proposes is free here, those ports as its mappings (`ext`: our external IP);
 * otherwise undefined (the normal hold follows).
 */
export async function claimProposed(
  pair: InterfacePair,
  proposed: readonly number[] | undefined,
): Promise<HeldMappings | undefined> {
  if (!proposed?.length || new Set(proposed).size !== proposed.length) return undefined
  const bindHost = pair.family === 6 ? '::' : '0.0.0.0'
  const free = await Promise.all(proposed.map((p) => bindable(bindHost, p)))
  if (!free.every(Boolean)) return undefined
  return new HeldMappings(
    proposed.map((local) => ({ local, ext: { host: pair.mine.ext, port: local } })),
    bindHost,
  )
}

/** True when two sets of pairs dial the same local ports to the same endpoints. */
export function samePairSet(a: readonly DialPair[], b: readonly DialPair[]): boolean {
  const key = (p: DialPair) => `${p.localPort}>${p.remote.host}:${p.remote.port}`
  const x = new Set(a.map(key))
  return x.size === b.length && b.every((p) => x.has(key(p)))
}
