import type { Socket } from 'node:net'
import { type Endpoint, NatType, type StrategyContext } from '@p2pd/interface'
import { type HeldMappings, localMappings, observeMappings } from '../mappings.js'
import type { Settings } from '../options.js'
import { type DialPair, type InterfacePair, opensFilterFor, sprayRole } from '../plan.js'
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

const LOOPBACK = { 4: '127.0.0.1', 6: '::1' } as const

/** Holds fresh local ports (and, remote, their STUN-observed mappings). */
export async function hold(
  s: Settings,
  mode: PunchMode,
  pair: InterfacePair,
  nat: NatRecord,
  peerNat: NatRecord,
  signal: AbortSignal,
): Promise<{ held: HeldMappings; spray: number[] }> {
  if (mode === 'self')
    return { held: await localMappings(LOOPBACK[pair.family], s.sockets, signal), spray: [] }
  if (mode === 'lan')
    return { held: await localMappings(pair.mine.nic, s.sockets, signal), spray: [] }
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
  if (!hard) return { held, spray: [] }
  try {
    const n = sprayChoice(peerNat.range, s.init.spray).sockets
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
 * Starts the connect loop of `pairs` at `startAt` (held by `res`, stopped on release). Retries
 * after a RST go at once (`Settings.fastRetry`) only when our NAT reuses one mapping for every
 * attempt: a symmetric NAT spends a new port on each, and a spray paces its own SYNs.
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
): ConnectLoop {
  const loop = connectLoop({
    pairs,
    localAddress: res.held?.localAddress,
    startAt,
    clock: ctx.clock,
    offsets:
      sprayed?.offsets ??
      staggerOffsets(
        pairs.reduce((n, p) => Math.max(n, p.index + 1), 1),
        oneWayMs,
      ),
    windowMs,
    retryMs: retryInterval(oneWayMs),
    fastRetry: sprayed || myNat.type === NatType.Symmetric ? undefined : s.fastRetry,
    attemptTimeoutMs: sprayed?.attemptTimeoutMs ?? s.init.attemptTimeoutMs,
    onSocket,
  })
  res.loop = loop
  return loop
}
