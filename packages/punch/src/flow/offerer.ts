import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type { RawConnection, StrategyContext } from '@p2pd/interface'
import { PunchError } from '../errors.js'
import type { Settings } from '../options.js'
import { chooseAcceptor, type DialPair, effectiveNat, punchMode, type SideInfo } from '../plan.js'
import { predictCandidates } from '../predict.js'
import { Inbox } from '../protocol/inbox.js'
import {
  LIMITS,
  MessageType,
  type PunchAbort,
  type PunchAnswer,
  type PunchOffer,
  type PunchReady,
} from '../protocol/messages.js'
import {
  defaults,
  firstSynAt,
  meetingTime,
  oneWayDelay,
  punchWindow,
  relativeUncertainty,
  signalingRtt,
} from '../schedule.js'
import type { ConnectLoop } from '../sockets/connect-loop.js'
import { KeepWatcher, sendKeep } from '../sockets/nomination.js'
import { hold, listenAsAcceptor, predictsOwnMapping, startLoop } from './arm.js'
import { dials, listenSide, localSide, plainDials, sprayPart, sprayWindow } from './dials.js'
import { dialsFirst, proposePorts, samePairSet } from './early.js'
import {
  abortPeer,
  firstSocket,
  publish,
  Resources,
  rawConnection,
  requirePair,
} from './session.js'

/**
 * The offering side of a punch: hold fresh mappings, offer them, measure the signaling round
 * trip from the answer, fix the meeting instant, window and acceptor, send `punch/ready`, then
 * dial at the instant (or listen, or dial at once when the answerer listens). The first socket
 * that connects is kept and marked with the KEEP byte.
 */
export async function offer(
  s: Settings,
  ctx: StrategyContext,
  signal: AbortSignal,
): Promise<RawConnection> {
  const pair = requirePair(ctx)
  const mode = punchMode(ctx.local, ctx.remote)
  const myNat = effectiveNat(mode, pair.mine.nat)
  const theirNat = effectiveNat(mode, pair.theirs.nat)
  const verdict = s.verdictOf(myNat, theirNat)
  if (verdict !== true) throw new PunchError('PUNCH_NOT_PUNCHABLE', verdict)
  const id = randomBytes(16).toString('hex')
  const res = new Resources()
  let winner: Socket | undefined
  let attempts = 0
  try {
    res.inbox = new Inbox(ctx.signaling, ctx.remote.nodeId, id, ctx.log)
    ctx.log('punch: offerer holding mappings')
    const predict = predictsOwnMapping(s, mode, myNat, myNat, theirNat)
    const { held, spray } = await hold(s, mode, pair, myNat, theirNat, signal, predict)
    res.held = held
    ctx.log('punch: offerer held')
    const candidatePorts = predictCandidates(myNat, held.mappings, s.predictions)
    const me = localSide(myNat, held, candidatePorts)
    const localU = ctx.clock.uncertainty
    let deliver: (s: Socket) => void = () => {}
    const first = new Promise<Socket>((resolve) => {
      deliver = resolve
    })
    let got = false
    // Dial first, answerer took our ports: it connects first and keeps (KEEP from its side).
    // Only our early pairs can connect before the answer, and only when it took the ports.
    let peerKeeps = false
    const watcher = new KeepWatcher()
    res.watcher = watcher
    const onSocket = (sock: Socket) => {
      res.sockets.add(sock)
      if (peerKeeps) return watcher.add(sock)
      if (got) return void sock.destroy()
      got = true
      deliver(sock)
    }
    // Dial first (early.ts): our SYNs leave before the offer, toward the ports we propose.
    let early: { ports: number[]; pairs: DialPair[]; loop: ConnectLoop } | undefined
    if (dialsFirst(s, mode, myNat, theirNat)) {
      const host = held.localAddress ?? '0.0.0.0'
      const ports = await proposePorts(host, me.locals.length, me.locals, signal)
      const guess = {
        nat: theirNat,
        mappings: ports.map((port) => ({ host: pair.theirs.ext, port })),
        candidatePorts: [],
      }
      const pairs = plainDials(me, guess, 'none')
      const windowMs = punchWindow(localU, defaults.maxGoUncertaintyMs, false, s.init.windowMs)
      // No fast retries: a NAT that drops refused SYNs sends no RST, and behind one that
      // answers RST the answerer will not take these ports (a slow retry is enough till then).
      const calm = { ...s, fastRetry: undefined }
      const loop = startLoop(calm, myNat, res, ctx, pairs, ctx.clock.now(), windowMs, 50, onSocket)
      early = { ports, pairs, loop }
      peerKeeps = true
      ctx.log(`punch: offerer dials first (${pairs.length} pairs)`)
    }
    const now = Math.round(ctx.clock.now())
    const offer: PunchOffer = {
      v: 1,
      id,
      address: ctx.localText,
      mode,
      mappings: me.mappings,
      candidatePorts,
      nat: myNat,
      uncertaintyMs: localU,
      sentAt: now,
      meetAt: now + defaults.baseWindowMs,
      ...(s.answerAndGo ? { go: true } : {}),
      ...(early ? { dialing: early.ports } : {}),
    }
    const sentPerf = performance.now()
    await publish(ctx, MessageType.offer, offer, signal)
    ctx.log('punch: offer published')
    /** The kept socket; ours to mark with KEEP unless the answerer keeps (dial first). */
    const kept = (sock: Socket, n: number): RawConnection => {
      attempts = n
      if (!peerKeeps) sendKeep(sock)
      s.emit({
        type: 'connected',
        role: 'offerer',
        attempts,
        refused: res.loop?.refused() ?? 0,
        local: `${sock.localAddress}:${sock.localPort}`,
        remote: `${sock.remoteAddress}:${sock.remotePort}`,
      })
      // The answerer keeping also opens the secure handshake (it is connected a trip first).
      return rawConnection(sock, !peerKeeps)
    }
    const answered = res.inbox.next(['answer', 'abort'], signal)
    answered.catch(() => {})
    // Dial first: the answerer's SYN may cross into ours before its answer (which travels
    // through the broker) arrives. Only the peer dials from those ports, and the node's
    // secure channel checks who it is: keep the socket at once.
    const reply = early
      ? await Promise.race([answered, watcher.kept.then(() => undefined)])
      : await answered
    if (!reply) {
      ctx.log('punch: connected before the answer')
      winner = await watcher.kept
      return kept(winner, early?.loop.attempts() ?? 0)
    }
    if (reply.type === 'abort') {
      throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${reply.body.reason}`)
    }
    ctx.log(
      `punch: ${reply.type} received ${Math.round(reply.atPerf - sentPerf)} ms after the offer`,
    )
    const answer: PunchAnswer = reply.body
    const plan = answer.plan
    const sameClock = mode === 'self'
    const acceptor = chooseAcceptor(mode, myNat, answer.nat)
    if (plan && (plan.acceptor !== acceptor || plan.meetAt - ctx.clock.now() > LIMITS.durationMs)) {
      throw new PunchError('PUNCH_FAILED', 'the answer’s plan disagrees with the NAT records')
    }
    const rttMs = plan ? plan.oneWayMs * 2 : signalingRtt(sentPerf, reply.atPerf, answer.heldMs)
    const oneWayMs = plan ? plan.oneWayMs : oneWayDelay(rttMs)
    const meetAt =
      plan?.meetAt ??
      meetingTime({
        nowMs: ctx.clock.now(),
        rttMs,
        localUncertaintyMs: localU,
        remoteUncertaintyMs: answer.uncertaintyMs,
        sameClock,
      })
    const peer: SideInfo = answer
    const listen = listenSide(acceptor, 'offerer')
    // The answer's NAT record is the one the peer acts on (it may carry the port range).
    const part = sprayPart(s, listen, myNat, answer.nat)
    const uncertaintyMs = relativeUncertainty(localU, answer.uncertaintyMs, sameClock)
    const windowMs =
      plan?.windowMs ??
      Math.max(
        punchWindow(localU, answer.uncertaintyMs, sameClock, s.init.windowMs),
        part ? sprayWindow(s, part.choice, oneWayMs, uncertaintyMs) : 0,
      )
    const { pairs, sprayed, slots } = dials(s, part, me, spray, peer, listen, {
      windowMs,
      oneWayMs,
      uncertaintyMs,
    })
    // Planned after the instant (the answer's trip outran its lead): the loop fires the
    // overdue pairs at once, in index order — a sequential NAT still gives each its predicted
    // port, so the pairs still due keep meeting theirs — and the rest on time.
    const lateMs = Math.round(ctx.clock.now() - meetAt)
    if (lateMs > 0) ctx.log(`punch: offerer planned ${lateMs} ms after the instant`)
    s.emit({
      type: 'planned',
      role: 'offerer',
      mode,
      acceptor,
      meetAt,
      rttMs,
      windowMs,
      pairs: pairs.length,
      ...(part ? { spray: { ...part.choice, role: part.role } } : {}),
      ...(slots ? { slots: { role: slots.role, slotMs: slots.slotMs } } : {}),
      syn: { mine: myNat.tcp?.synPolicy ?? '?', peer: answer.nat.tcp?.synPolicy ?? '?' },
      ...(lateMs > 0 ? { lateMs } : {}),
    })

    // The answerer took the ports we proposed: our early dials are the plan's own.
    const earlyHit = early !== undefined && !sprayed && !slots && samePairSet(early.pairs, pairs)
    if (early && !earlyHit) {
      early.loop.stop()
      peerKeeps = false
    }
    if (early) ctx.log(`punch: early dials ${earlyHit ? 'kept' : 'stopped'}`)
    if (acceptor === 'offerer') {
      res.acceptor = await listenAsAcceptor(myNat, answer, held, onSocket)
    }
    const overall = res.deadline(
      Math.max(0, meetAt - ctx.clock.now()) + windowMs + defaults.attemptTimeoutMs,
      signal,
      'punch window',
    )
    let peerAbort: Promise<PunchAbort | undefined>
    if (plan) {
      // Answer-and-go: the answerer is armed (listening, if it accepts) and starts at the
      // instant; no ready/ack round.
      peerAbort = res.inbox.next(['abort'], overall).then((m) => m.body)
      peerAbort.catch(() => {})
    } else {
      const ready: PunchReady = { v: 1, kind: 'go', id, meetAt, acceptor, windowMs, oneWayMs }
      await publish(ctx, MessageType.ready, ready, signal)
      const ackOrAbort = res.inbox.next(['ack', 'abort'], overall)
      ackOrAbort.catch(() => {})
      peerAbort = ackOrAbort.then((m) => (m.type === 'abort' ? m.body : undefined))
      if (acceptor === 'answerer') {
        // It listens once it has sent its ack: dial right away then, no instant to wait for.
        const m = await ackOrAbort
        if (m.type === 'abort') {
          throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${m.body.reason}`)
        }
      }
    }
    // Simultaneous open: at the instant, or at once toward a NAT that drops refused SYNs.
    const startAt =
      acceptor === 'none' && !sprayed
        ? firstSynAt(meetAt, ctx.clock.now(), answer.nat.tcp?.synPolicy)
        : acceptor === 'none'
          ? meetAt
          : ctx.clock.now()
    const loop = earlyHit
      ? early?.loop
      : pairs.length
        ? startLoop(
            s,
            myNat,
            res,
            ctx,
            pairs,
            startAt,
            windowMs,
            oneWayMs,
            onSocket,
            sprayed,
            slots,
          )
        : undefined
    winner = await firstSocket({
      sockets: peerKeeps ? watcher.kept : first,
      signal: overall,
      peerAbort,
      loopDone: loop?.done,
      listening: acceptor === 'offerer' || peerKeeps,
    })
    return kept(winner, loop?.attempts() ?? 0)
  } catch (err) {
    if ((err as PunchError).code === 'PUNCH_FAILED')
      abortPeer(ctx, id, 'every attempt failed', signal)
    s.emit({
      type: 'failed',
      role: 'offerer',
      reason: (err as Error).message,
      attempts: res.loop?.attempts() ?? attempts,
      refused: res.loop?.refused() ?? 0,
    })
    throw err
  } finally {
    await res.release(winner)
  }
}
