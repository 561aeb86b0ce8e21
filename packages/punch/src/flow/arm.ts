import type { Socket } from 'node:net'
import { DeltaType, type Endpoint, NatType, type StrategyContext } from '@p2pd/interface'
import { HeldMappings, localMappings, observeMappings } from '../mappings.js'
import type { Settings } from '../options.js'
import {
  chooseAcceptor,
  type DialPair,
  type InterfacePair,
  isRandomSymmetric,
  opensFilterFor,
  sprayRole,
} from '../plan.js'
import { isSequentialSymmetric } from '../predict.js'
import type { NatRecord, PunchMode } from '../protocol/messages.js'
import { retryInterval, staggerOffsets } from '../schedule.js'
import { Acceptor } from '../sockets/acceptor.js'
import { type ConnectLoop, connectLoop } from '../sockets/connect-loop.js'
import { freePorts } from '../sockets/free-port.js'
import { openFilter } from '../sockets/opener.js'
import { sprayChoice } from '../spray.js'
import type { Sprayed } from './dials.js'
import type { Resources } from './session.js'
import { SLOT_PREDICTIONS, type Slots } from './slots.js'

const LOOPBACK = { 4: '127.0.0.1', 6: '::1' } as const

/**
 * True when our mapping can be announced without asking STUN: a cone NAT (endpoint-independent
 * mapping) that keeps the local port (`equal` delta), in a simultaneous open. Its mapping for
 * a fresh local port is our external IP and that port, created by our own first SYN — which in
 * a simultaneous open leaves before the peer's can pass our filter anyway. An acceptor needs
 * its mapping to exist before the peer's SYN arrives, so it still holds one through STUN. The
 * STUN round (a TCP handshake and a request through the NAT) was the largest part of each
 * side's time to its offer or answer (lab, 25 ms per router: 120–150 ms a side).
 */
export function predictsOwnMapping(
  s: Settings,
  mode: PunchMode,
  nat: NatRecord,
  offerer: NatRecord,
  answerer: NatRecord,
): boolean {
  return (
    s.predictPreserving &&
    mode === 'remote' &&
    (nat.type === NatType.RestrictedCone || nat.type === NatType.PortRestrictedCone) &&
    nat.delta.type === DeltaType.Equal &&
    chooseAcceptor(mode, offerer, answerer) === 'none' &&
    sprayRole(offerer, answerer) === undefined
  )
}

/** Fresh local ports announced as `ext:port` (a port-preserving cone; nothing held open). */
async function predictedMappings(
  ext: string,
  family: 4 | 6,
  count: number,
  signal: AbortSignal,
): Promise<HeldMappings> {
  const bindHost = family === 6 ? '::' : '0.0.0.0'
  const ports = await freePorts(bindHost, count, [], signal)
  return new HeldMappings(
    ports.map((local) => ({ local, ext: { host: ext, port: local } })),
    bindHost,
  )
}

/**
 * Holds fresh local ports (and, remote, their STUN-observed mappings; or, when `predict`, the
 * mappings a port-preserving cone will give them — see {@link predictsOwnMapping}).
 */
export async function hold(
  s: Settings,
  mode: PunchMode,
  pair: InterfacePair,
  nat: NatRecord,
  peerNat: NatRecord,
  signal: AbortSignal,
  predict = false,
): Promise<{ held: HeldMappings; spray: number[] }> {
  if (mode === 'self')
    return { held: await localMappings(LOOPBACK[pair.family], s.sockets, signal), spray: [] }
  if (mode === 'lan')
    return { held: await localMappings(pair.mine.nic, s.sockets, signal), spray: [] }
  if (predict) {
    return {
      held: await predictedMappings(pair.mine.ext, pair.family, s.sockets, signal),
      spray: [],
    }
  }
  const hard = sprayRole(nat, peerNat) === 'hard'
  const held = await observeMappings({
    servers: s.init.stunServers ?? [],
    // A sequential NAT gets one held port: its prediction continues from it. The random side
    // of a spray needs one mapping only, for its public IP: its spray sockets are fresh.
    count: isSequentialSymmetric(nat) || hard ? 1 : s.sockets,
    sequential: isSequentialSymmetric(nat),
    family: pair.family,
    signal,
    timeoutMs: s.init.stunTimeoutMs,
  })
  // A sequential NAT whose ports advance whatever the local port (`independent` delta) may
  // take its turns (`slots.ts`) from fresh local ports: no 4-tuple still closing blocks a turn.
  const turns = s.turns && nat.delta.type === DeltaType.Independent && isSequentialSymmetric(nat)
  if (!hard && !turns) return { held, spray: [] }
  try {
    const n = hard
      ? sprayChoice(peerNat.range, s.init.spray).sockets
      : Math.max(s.predictions, SLOT_PREDICTIONS)
    const exclude = held.mappings.map((m) => m.local)
    return { held, spray: await freePorts(held.localAddress ?? '0.0.0.0', n, exclude, signal) }
  } catch (err) {
    await held.release()
    throw err
  }
}

/**
 * The accepting side of a punch: when our restricted cone faces a random-symmetric peer, first
 * open our filter toward the peer's IP (one SYN per held port), then listen on the held ports
 * for the peer's connects.
 */
export async function listenAsAcceptor(
  myNat: NatRecord,
  peer: { readonly nat: NatRecord; readonly mappings: readonly Endpoint[] },
  held: HeldMappings,
  onSocket: (socket: Socket) => void,
): Promise<Acceptor> {
  const ports = held.mappings.map((m) => m.local)
  const target = peer.mappings[0]
  if (target && opensFilterFor(myNat, peer.nat)) {
    await openFilter({
      ports,
      localAddress: held.localAddress,
      host: target.host,
      port: target.port,
    })
  }
  return Acceptor.listen({
    host: held.localAddress ?? '0.0.0.0',
    ports,
    expectHost: target?.host,
    onSocket,
  })
}

/**
 * The random side of a spray re-dials at once after a RST (a new random mapping each time),
 * for the whole window, but never faster than its SYN rate cap: against an RST cone each
 * mapping lives one round trip, so only a re-dial at once keeps the live count at the cap ×
 * that round trip (see `spray.ts`). No sub-ms pause: it waits event-loop turns, and with
 * hundreds of sockets a turn is long (lab, 5 ms per uplink, loaded host: ~300 re-dials/s
 * with the pause); the probes' random ports, not the phase, make the crossings.
 */
const sprayRedial = (windowMs: number) => ({
  maxMs: 0,
  attempts: Number.POSITIVE_INFINITY,
  budgetMs: windowMs,
})

/**
 * Starts the connect loop of `pairs` at `startAt` (held by `res`, stopped on release). Retries
 * after a RST go at once (`Settings.fastRetry`) only when our NAT reuses one mapping for every
 * attempt: a sequential symmetric NAT spends a predicted port on each, and the easy side of a
 * spray sends one probe per port. The random side of a spray re-dials at once within its SYN
 * rate cap (`sprayRedial`).
 */
export function startLoop(
  s: Settings,
  myNat: NatRecord,
  res: Resources,
  ctx: StrategyContext,
  pairs: DialPair[],
  startAt: number,
  windowMs: number,
  oneWayMs: number,
  onSocket: (s: Socket) => void,
  sprayed?: Sprayed,
  slots?: Slots,
): ConnectLoop {
  const hard = sprayed !== undefined && isRandomSymmetric(myNat)
  const fastRetry = hard
    ? sprayRedial(windowMs)
    : sprayed || myNat.type === NatType.Symmetric
      ? undefined
      : s.fastRetry
  const loop = connectLoop({
    pairs,
    localAddress: res.held?.localAddress,
    startAt,
    clock: ctx.clock,
    ...(slots?.activeMs !== undefined ? { activeMs: slots.activeMs } : {}),
    offsets:
      sprayed?.offsets ??
      slots?.offsets ??
      staggerOffsets(
        pairs.reduce((n, p) => Math.max(n, p.index + 1), 1),
        oneWayMs,
      ),
    windowMs,
    retryMs: retryInterval(oneWayMs),
    fastRetry,
    ...(hard ? { maxPerSecond: sprayChoice(myNat.range, s.init.spray).socketsPerSecond } : {}),
    attemptTimeoutMs: sprayed?.attemptTimeoutMs ?? s.init.attemptTimeoutMs,
    onSocket,
  })
  res.loop = loop
  return loop
}
