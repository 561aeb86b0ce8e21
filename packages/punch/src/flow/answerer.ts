import type { Socket } from 'node:net'
import type { InboundSignal, RawConnection, StrategyContext } from '@p2pd/interface'
import { PunchError } from '../errors.js'
import type { HeldMappings } from '../mappings.js'
import type { Settings } from '../options.js'
import { effectiveNat, interfacePair, punchMode } from '../plan.js'
import { predictCandidates } from '../predict.js'
import { Inbox } from '../protocol/inbox.js'
import {
  MessageType,
  type PunchAbort,
  type PunchAck,
  type PunchAnswer,
  type PunchReady,
  parseOffer,
} from '../protocol/messages.js'
import { defaults, relativeUncertainty } from '../schedule.js'
import { KeepWatcher } from '../sockets/nomination.js'
import { hold, listenAsAcceptor, startLoop } from './arm.js'
import { dials, type ListenSide, localSide, sprayPart } from './dials.js'
import { firstSocket, publish, Resources, rawConnection } from './session.js'

/**
 * The answering side of a punch: check the offer, hold fresh mappings, answer, take the
 * offerer's plan from `punch/ready`, arm (and listen if we accept), ack, then dial at the
 * instant. Keeps the socket on which the offerer's KEEP byte arrives.
 */
export async function answer(
  s: Settings,
  ctx: StrategyContext,
  inbound: InboundSignal,
  signal: AbortSignal,
): Promise<RawConnection | undefined> {
  const heldFrom = performance.now()
  const offer = parseOffer(inbound.message.body)
  const res = new Resources()
  let winner: Socket | undefined
  const refuse = async (reason: string) => {
    const abort: PunchAbort = { v: 1, kind: 'abort', id: offer.id, reason: reason.slice(0, 200) }
    await publish(ctx, MessageType.ready, abort, signal).catch(() => {})
    return new PunchError('PUNCH_NOT_PUNCHABLE', reason)
  }
  try {
    const pair = interfacePair(ctx.local, ctx.remote)
    if (!pair) throw await refuse('no IP family in common')
    const mode = punchMode(ctx.local, ctx.remote)
    if (mode !== offer.mode)
      throw await refuse(`mode mismatch: we see ${mode}, offer says ${offer.mode}`)
    const myNat = effectiveNat(mode, pair.mine.nat)
    const verdict = s.verdictOf(myNat, offer.nat)
    if (verdict !== true) throw await refuse(verdict)
    res.inbox = new Inbox(ctx.signaling, ctx.remote.nodeId, offer.id, ctx.log)
    let held: HeldMappings
    let spray: number[]
    try {
      ;({ held, spray } = await hold(s, mode, pair, myNat, offer.nat, signal))
    } catch (err) {
      throw await refuse(`no mapping: ${(err as Error).message}`)
    }
    res.held = held
    const candidatePorts = predictCandidates(myNat, held.mappings, s.predictions)
    const me = localSide(myNat, held, candidatePorts)
    const answer: PunchAnswer = {
      v: 1,
      id: offer.id,
      mappings: me.mappings,
      candidatePorts,
      nat: myNat,
      uncertaintyMs: ctx.clock.uncertainty,
      heldMs: performance.now() - heldFrom,
      sentAt: Math.round(ctx.clock.now()),
      meetAt: offer.meetAt,
    }
    await publish(ctx, MessageType.answer, answer, signal)
    const readyWait = res.deadline(
      s.init.readyTimeoutMs ?? 10_000,
      signal,
      'waiting for punch/ready',
    )
    const m = await res.inbox.next(['go', 'abort'], readyWait)
    if (m.type === 'abort') {
      throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${m.body.reason}`)
    }
    const ready: PunchReady = m.body
    const listen: ListenSide =
      ready.acceptor === 'answerer' ? 'me' : ready.acceptor === 'offerer' ? 'peer' : 'none'
    const part = sprayPart(s, listen, myNat, offer.nat)
    const { pairs, sprayed } = dials(s, part, me, spray, offer, listen, {
      windowMs: ready.windowMs,
      oneWayMs: ready.oneWayMs,
      uncertaintyMs: relativeUncertainty(
        ctx.clock.uncertainty,
        offer.uncertaintyMs,
        mode === 'self',
      ),
    })
    s.emit({
      type: 'planned',
      role: 'answerer',
      mode,
      acceptor: ready.acceptor,
      meetAt: ready.meetAt,
      rttMs: ready.oneWayMs * 2,
      windowMs: ready.windowMs,
      pairs: pairs.length,
      ...(part ? { spray: { ...part.choice, role: part.role } } : {}),
    })
    const watcher = new KeepWatcher()
    res.watcher = watcher
    const onSocket = (sock: Socket) => {
      res.sockets.add(sock)
      watcher.add(sock)
    }
    if (ready.acceptor === 'answerer') {
      res.acceptor = await listenAsAcceptor(myNat, offer, held, onSocket)
    }
    const ack: PunchAck = { v: 1, kind: 'ack', id: offer.id }
    await publish(ctx, MessageType.ready, ack, signal)
    const overall = res.deadline(
      Math.max(0, ready.meetAt - ctx.clock.now()) + ready.windowMs + defaults.attemptTimeoutMs,
      signal,
      'punch window',
    )
    const peerAbort = res.inbox.next(['abort'], overall).then((x) => x.body)
    peerAbort.catch(() => {})
    const startAt = ready.acceptor === 'none' ? ready.meetAt : ctx.clock.now()
    if (pairs.length)
      startLoop(
        s,
        myNat,
        res,
        ctx,
        pairs,
        startAt,
        ready.windowMs,
        ready.oneWayMs,
        onSocket,
        sprayed,
      )
    // The offerer decides which socket both keep: wait for its byte, even after our loop
    // has stopped (its socket may connect last).
    winner = await firstSocket({
      sockets: watcher.kept,
      signal: overall,
      peerAbort,
      listening: true,
    })
    s.emit({
      type: 'connected',
      role: 'answerer',
      attempts: res.loop?.attempts() ?? 0,
      refused: res.loop?.refused() ?? 0,
      local: `${winner.localAddress}:${winner.localPort}`,
      remote: `${winner.remoteAddress}:${winner.remotePort}`,
    })
    return rawConnection(winner)
  } catch (err) {
    s.emit({
      type: 'failed',
      role: 'answerer',
      reason: (err as Error).message,
      attempts: res.loop?.attempts() ?? 0,
      refused: res.loop?.refused() ?? 0,
    })
    throw err
  } finally {
    await res.release(winner)
  }
}
