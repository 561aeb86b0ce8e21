import type { Socket } from 'node:net'
import {
  type InboundSignal,
  NatType,
  type RawConnection,
  type StrategyContext,
} from '@p2pd/interface'
import { PunchError } from '../errors.js'
import type { HeldMappings } from '../mappings.js'
import type { Settings } from '../options.js'
import { chooseAcceptor, effectiveNat, interfacePair, offerFamily, punchMode } from '../plan.js'
import { predictCandidates } from '../predict.js'
import { Inbox } from '../protocol/inbox.js'
import {
  MessageType,
  type PunchAbort,
  type PunchAck,
  type PunchAnswer,
  type PunchPlan,
  parseOffer,
} from '../protocol/messages.js'
import {
  answerLead,
  defaults,
  firstSynAt,
  measuredOneWay,
  punchWindow,
  relativeUncertainty,
} from '../schedule.js'
import { KeepWatcher, sendKeep } from '../sockets/nomination.js'
import { hold, listenAsAcceptor, predictsOwnMapping, startLoop } from './arm.js'
import { dials, listenSide, localSide, sprayPart, sprayWindow } from './dials.js'
import { claimProposed } from './early.js'
import { abortPeer, firstSocket, publish, Resources, rawConnection } from './session.js'
import { SLOT_PREDICTIONS, slotLength } from './slots.js'

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
  const arrivedAt = ctx.clock.now()
  const offer = parseOffer(inbound.message.body)
  ctx.log(`punch: offer arrived (age ${Math.round(arrivedAt - offer.sentAt)} ms)`)
  const res = new Resources()
  let winner: Socket | undefined
  const refuse = async (reason: string) => {
    const abort: PunchAbort = { v: 1, kind: 'abort', id: offer.id, reason: reason.slice(0, 200) }
    await publish(ctx, MessageType.ready, abort, signal).catch(() => {})
    return new PunchError('PUNCH_NOT_PUNCHABLE', reason)
  }
  try {
    // The offerer chose the family; its mappings say which (a peer may weigh them otherwise).
    const pair = interfacePair(ctx.local, ctx.remote, offerFamily(offer))
    if (!pair) throw await refuse('no IP family in common')
    const mode = punchMode(ctx.local, ctx.remote, pair)
    if (mode !== offer.mode)
      throw await refuse(`mode mismatch: we see ${mode}, offer says ${offer.mode}`)
    const myNat = effectiveNat(mode, pair.mine.nat)
    const verdict = s.verdictOf(myNat, offer.nat)
    if (verdict !== true) throw await refuse(verdict)
    res.inbox = new Inbox(ctx.signaling, ctx.remote.nodeId, offer.id, ctx.log)
    const sameClock = mode === 'self'
    const localU = ctx.clock.uncertainty
    const uncertaintyMs = relativeUncertainty(localU, offer.uncertaintyMs, sameClock)
    const goable = offer.go === true && s.answerAndGo
    let held: HeldMappings
    let spray: number[] = []
    // Dial first (early.ts): the offerer already dials the ports it proposed; take them. Then
    // nobody waits for an instant, so the clocks' disagreement does not matter.
    const predict = predictsOwnMapping(s, mode, myNat, offer.nat, myNat)
    const claimed =
      goable && predict && s.dialFirst && myNat.tcp?.synPolicy === 'drop'
        ? await claimProposed(pair, offer.dialing)
        : undefined
    const go = goable && (claimed !== undefined || uncertaintyMs <= defaults.maxGoUncertaintyMs)
    try {
      if (claimed) held = claimed
      else ({ held, spray } = await hold(s, mode, pair, myNat, offer.nat, signal, predict))
    } catch (err) {
      throw await refuse(`no mapping: ${(err as Error).message}`)
    }
    res.held = held
    ctx.log(`punch: answerer held (offer age ${Math.round(ctx.clock.now() - offer.sentAt)} ms)`)
    // Taking turns (see slots.ts), a sequential side gets one SYN per predicted port: more.
    const turns = s.turns && slotLength(myNat, offer.nat, 'none', 0, 0) !== undefined
    const predictions = turns ? Math.max(s.predictions, SLOT_PREDICTIONS) : s.predictions
    const candidatePorts = predictCandidates(myNat, held.mappings, predictions)
    const me = localSide(myNat, held, candidatePorts)
    const answer = (extra: Partial<PunchAnswer>): PunchAnswer => ({
      v: 1,
      id: offer.id,
      mappings: me.mappings,
      candidatePorts,
      nat: myNat,
      uncertaintyMs: localU,
      heldMs: performance.now() - heldFrom,
      sentAt: Math.round(ctx.clock.now()),
      meetAt: offer.meetAt,
      ...extra,
    })
    const watcher = new KeepWatcher()
    res.watcher = watcher
    // Dial first: our SYN crosses into the offerer's waiting socket, so we connect a trip
    // before it does; we keep (KEEP on our first socket) and open the secure handshake, which
    // saves the offerer's KEEP trip and a round of the handshake (early.ts).
    let ownFirst: (s: Socket) => void = () => {}
    const first = new Promise<Socket>((resolve) => {
      ownFirst = resolve
    })
    let got = false
    const onSocket = (sock: Socket) => {
      res.sockets.add(sock)
      if (!claimed) return watcher.add(sock)
      if (got) return void sock.destroy()
      got = true
      sendKeep(sock)
      ownFirst(sock)
    }
    let plan: PunchPlan
    let planAt = 0
    let goLead = 0
    if (go) {
      // Answer-and-go: we fix the plan from the offer's measured one-way delay, arm, and
      // start at the instant; the answer carries the plan and no ready/ack round follows.
      const acceptor = chooseAcceptor(mode, offer.nat, myNat)
      const oneWayMs = measuredOneWay(arrivedAt, offer.sentAt)
      const part = sprayPart(s, listenSide(acceptor, 'answerer'), myNat, offer.nat)
      const windowMs = Math.max(
        punchWindow(localU, offer.uncertaintyMs, sameClock, s.init.windowMs),
        part ? sprayWindow(s, part.choice, oneWayMs, uncertaintyMs) : 0,
      )
      if (acceptor === 'answerer') {
        res.acceptor = await listenAsAcceptor(myNat, offer, held, onSocket)
      }
      // Two endpoint-independent NATs need not wait for the answer to land: each side keeps
      // its mapping open by re-dialing at once after a RST (or its SYN waits in SYN_SENT), so
      // we may start one trip early and the offerer joins on receipt. The measured one-way
      // delay is also the slow leg (the first message from a new peer costs the receiver its
      // key agreement): waiting it out cost as much as the ready/ack round in the lab.
      // Symmetric sides spend a mapping per attempt and need both to start together. After
      // dial first (we took the offerer's proposed ports), its SYNs are out already: now.
      const aligned = myNat.type === NatType.Symmetric || offer.nat.type === NatType.Symmetric
      // Aligned sides: the lead also covers what our answers measurably took to publish.
      const trip = s.answerTrip.ms
      const lead = claimed
        ? 0
        : aligned
          ? answerLead(oneWayMs, uncertaintyMs, defaults.armMs, trip)
          : answerLead(0, uncertaintyMs)
      goLead = lead
      // The instant is fixed once the dials are laid out (below), just before they are armed
      // and the answer leaves: that work is then not taken out of the lead.
      plan = { meetAt: 0, acceptor, windowMs: Math.round(windowMs), oneWayMs }
      ctx.log(
        `punch: go plan, lead ${Math.round(lead)} ms (one-way ${Math.round(oneWayMs)} ms, answers ${trip ?? '?'} ms, clocks ±${Math.round(uncertaintyMs)} ms)`,
      )
    } else {
      await publish(ctx, MessageType.answer, answer({}), signal)
      const readyWait = res.deadline(
        s.init.readyTimeoutMs ?? 10_000,
        signal,
        'waiting for punch/ready',
      )
      const m = await res.inbox.next(['go', 'abort'], readyWait)
      if (m.type === 'abort') {
        throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${m.body.reason}`)
      }
      plan = m.body
      if (plan.acceptor === 'answerer') {
        res.acceptor = await listenAsAcceptor(myNat, offer, held, onSocket)
      }
      const ack: PunchAck = { v: 1, kind: 'ack', id: offer.id }
      await publish(ctx, MessageType.ready, ack, signal)
    }
    const listen = listenSide(plan.acceptor, 'answerer')
    const part = sprayPart(s, listen, myNat, offer.nat)
    const { pairs, sprayed, slots } = dials(s, part, me, spray, offer, listen, {
      windowMs: plan.windowMs,
      oneWayMs: plan.oneWayMs,
      uncertaintyMs,
    })
    if (go) {
      planAt = performance.now()
      plan = { ...plan, meetAt: Math.round(ctx.clock.now() + goLead) }
    }
    s.emit({
      type: 'planned',
      role: 'answerer',
      mode,
      acceptor: plan.acceptor,
      meetAt: plan.meetAt,
      rttMs: plan.oneWayMs * 2,
      windowMs: plan.windowMs,
      pairs: pairs.length,
      ...(part ? { spray: { ...part.choice, role: part.role } } : {}),
      ...(slots ? { slots: { role: slots.role, slotMs: slots.slotMs } } : {}),
      syn: { mine: myNat.tcp?.synPolicy ?? '?', peer: offer.nat.tcp?.synPolicy ?? '?' },
    })
    const overall = res.deadline(
      Math.max(0, plan.meetAt - ctx.clock.now()) + plan.windowMs + defaults.attemptTimeoutMs,
      signal,
      'punch window',
    )
    const peerAbort = res.inbox.next(['abort'], overall).then((x) => x.body)
    peerAbort.catch(() => {})
    // Simultaneous open: at the instant. The offerer listening: at once after the ack (it
    // listened before its ready), at the instant after a go-answer (it listens on receipt).
    // Toward an offerer whose NAT drops refused SYNs, a simultaneous open starts at once.
    const startAt =
      plan.acceptor === 'none' && !sprayed
        ? firstSynAt(plan.meetAt, ctx.clock.now(), offer.nat.tcp?.synPolicy)
        : plan.acceptor === 'none' || go
          ? plan.meetAt
          : ctx.clock.now()
    if (pairs.length)
      startLoop(
        s,
        myNat,
        res,
        ctx,
        pairs,
        startAt,
        plan.windowMs,
        plan.oneWayMs,
        onSocket,
        sprayed,
        slots,
      )
    // Go: the answer leaves after our first SYNs (their timers were set first; sealing it
    // takes CPU), and its PUBACK (a round trip to the broker) is not waited for: a socket may
    // be ours first. Its failure fails the punch.
    let answerFailed: Promise<never> | undefined
    if (go) {
      const answered = new Promise((r) => setTimeout(r, 0)).then(() =>
        publish(ctx, MessageType.answer, answer({ plan }), signal),
      )
      answered.then(
        () => {
          // From fixing the plan to the broker's acknowledgement: what the next lead covers.
          const ms = performance.now() - planAt
          s.answerTrip.add(ms)
          // Acknowledged after the instant: the offerer will plan late, and fire the pairs
          // then overdue at once (offerer.ts); the next lead covers this trip.
          const late = Math.round(ctx.clock.now() - plan.meetAt)
          ctx.log(
            `punch: answer published (${Math.round(ms)} ms after the plan${late > 0 ? `, ${late} ms after the instant` : ''})`,
          )
        },
        () => {},
      )
      answerFailed = answered.then(() => new Promise<never>(() => {}))
    }
    // The offerer decides which socket both keep (unless we took its ports: then we did):
    // wait for its byte, even after our loop has stopped, while a socket of ours connected.
    // With none and nothing of ours listening, no SYN of the offerer can reach us any more
    // (a symmetric side's mappings closed with its last attempt, a cone's probes were cut):
    // we give up and tell it (lab, ~0 ms, port-restricted-rst × sym-seq1-rst: the cone
    // offerer went on for its whole 3 s window before TURN could start).
    const socket = firstSocket({
      sockets: claimed ? first : watcher.kept,
      signal: overall,
      peerAbort,
      loopDone: res.loop?.done,
      listening: plan.acceptor === 'answerer',
      waiting: () => res.sockets.size > 0,
    })
    socket.catch(() => {})
    winner = await (answerFailed ? Promise.race([socket, answerFailed]) : socket)
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
    if ((err as PunchError).code === 'PUNCH_FAILED')
      abortPeer(ctx, offer.id, 'every attempt failed', signal)
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
