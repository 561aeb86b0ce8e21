import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import {
  abortReason,
  Deadline,
  type Endpoint,
  type InboundSignal,
  type PeerAddress,
  type RawConnection,
  type Strategy,
  type StrategyContext,
} from '@p2pd/interface'
import { PunchError } from './errors.js'
import {
  type HeldMappings,
  localMappings,
  observeMappings,
  type StunServerSpec,
} from './mappings.js'
import {
  chooseAcceptor,
  type DialPair,
  dialPairs,
  effectiveNat,
  type InterfacePair,
  interfacePair,
  type LocalSide,
  opensFilterFor,
  punchMode,
  punchVerdict,
  type SideInfo,
  samePairs,
  sprayRole,
} from './plan.js'
import { isSequentialSymmetric, predictCandidates } from './predict.js'
import { Inbox } from './protocol/inbox.js'
import {
  type Acceptor as AcceptorRole,
  MessageType,
  type NatRecord,
  type PunchAbort,
  type PunchAck,
  type PunchAnswer,
  type PunchMode,
  type PunchOffer,
  type PunchReady,
  parseOffer,
} from './protocol/messages.js'
import {
  defaults,
  meetingTime,
  oneWayDelay,
  punchWindow,
  relativeUncertainty,
  retryInterval,
  signalingRtt,
  staggerOffsets,
} from './schedule.js'
import { Acceptor } from './sockets/acceptor.js'
import { type ConnectLoop, connectLoop } from './sockets/connect-loop.js'
import { freePorts } from './sockets/free-port.js'
import { KeepWatcher, sendKeep } from './sockets/nomination.js'
import { openFilter } from './sockets/opener.js'
import {
  evenOffsets,
  probeDelay,
  randomPorts,
  type SprayBudget,
  type SprayChoice,
  sprayChoice,
} from './spray.js'

export interface PunchInit {
  /** STUN servers reachable over TCP (`host:port` or endpoints); needed for remote peers. */
  readonly stunServers?: readonly StunServerSpec[]
  /** Socket pairs punched at once between two endpoint-independent NATs (default 2). */
  readonly sockets?: number
  /** Predicted ports a sequential-symmetric side announces (and may spend; default 8). */
  readonly predictions?: number
  /** Base punch window after the meeting instant, before clock uncertainty (default 3,000 ms). */
  readonly windowMs?: number
  /** Cap of one connect attempt (default 1,500 ms). */
  readonly attemptTimeoutMs?: number
  /** Deadline of each STUN observation (default 2,000 ms). */
  readonly stunTimeoutMs?: number
  /** How long the answerer waits for `punch/ready` (default 10,000 ms). */
  readonly readyTimeoutMs?: number
  /** Birthday-spray budget (symmetric random × port-restricted cone); see `sprayChoice`. */
  readonly spray?: SprayBudget
  /** Observer of each punch's milestones (tests, benchmarks, the lab runner). */
  readonly onEvent?: (event: PunchEvent) => void
}

/** Milestones of one punch, for tests and measurements. */
export type PunchEvent =
  | {
      readonly type: 'planned'
      readonly role: 'offerer' | 'answerer'
      readonly mode: PunchMode
      readonly acceptor: AcceptorRole
      readonly meetAt: number
      readonly rttMs: number
      readonly windowMs: number
      readonly pairs: number
      /** Set when this punch sprays: our part and the budget. */
      readonly spray?: SprayChoice & { readonly role: 'hard' | 'easy' }
    }
  | {
      readonly type: 'connected'
      readonly role: 'offerer' | 'answerer'
      readonly attempts: number
      readonly local: string
      readonly remote: string
    }
  | {
      readonly type: 'failed'
      readonly role: 'offerer' | 'answerer'
      readonly reason: string
      readonly attempts: number
    }

const NAME = 'punch'
const DEFAULT_SOCKETS = 2
const DEFAULT_PREDICTIONS = 8
const LOOPBACK = { 4: '127.0.0.1', 6: '::1' } as const

/** Everything one punch holds; released in one place on success, failure or abort. */
class Resources {
  inbox?: Inbox
  held?: HeldMappings
  acceptor?: Acceptor
  loop?: ConnectLoop
  watcher?: KeepWatcher
  readonly sockets = new Set<Socket>()
  readonly deadlines: Deadline[] = []

  /** A GC-safe deadline under `parent`, released with everything else. */
  deadline(ms: number, parent: AbortSignal, what: string): AbortSignal {
    const d = new Deadline(ms, parent, `punch: ${what}`)
    this.deadlines.push(d)
    return d.signal
  }

  async release(winner?: Socket): Promise<void> {
    this.loop?.stop()
    this.watcher?.close()
    for (const s of this.sockets) if (s !== winner) s.destroy()
    this.sockets.clear()
    this.inbox?.close()
    for (const d of this.deadlines.splice(0)) d.dispose()
    await Promise.allSettled([this.acceptor?.close(), this.held?.release()])
  }
}

function rawConnection(socket: Socket): RawConnection {
  socket.setNoDelay(true)
  return {
    stream: socket,
    local: { host: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    remote: { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
    relayed: false,
    // Both sides "dialled": the secure channel's hello breaks the tie (simultaneous open).
    initiator: true,
  }
}

function requirePair(ctx: StrategyContext): InterfacePair {
  const pair = interfacePair(ctx.local, ctx.remote)
  if (!pair) throw new PunchError('PUNCH_NOT_PUNCHABLE', 'no IP family in common')
  return pair
}

/** Resolves with the first of: a socket, a peer abort, the loop giving up, the deadline. */
function firstSocket(opts: {
  sockets: Promise<Socket>
  signal: AbortSignal
  peerAbort?: Promise<PunchAbort | undefined>
  loopDone?: Promise<void>
  listening: boolean
}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (f: () => void) => {
      if (done) return
      done = true
      opts.signal.removeEventListener('abort', onAbort)
      f()
    }
    const onAbort = () => finish(() => reject(abortReason(opts.signal)))
    if (opts.signal.aborted) return onAbort()
    opts.signal.addEventListener('abort', onAbort, { once: true })
    opts.sockets.then((s) => finish(() => resolve(s)))
    opts.peerAbort?.then(
      (a) => {
        if (a)
          finish(() => reject(new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${a.reason}`)))
      },
      () => {},
    )
    // Without a listener, a loop with nothing left to try is a failure; give sockets that
    // connected in the same tick a moment to be delivered.
    if (!opts.listening) {
      opts.loopDone?.then(() =>
        setImmediate(() =>
          finish(() => reject(new PunchError('PUNCH_FAILED', 'every punch attempt failed'))),
        ),
      )
    }
  })
}

/**
 * The accepting side of a punch: when our restricted cone faces a random-symmetric peer, first
 * open our filter toward the peer's IP (one SYN per held port), then listen on the held ports
 * for the peer's connects.
 */
async function listenAsAcceptor(
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
 * TCP hole punching as a {@link Strategy}: fresh mappings observed just before and held open,
 * an offer/answer/ready/ack exchange over signaling, a meeting instant computed from the
 * measured signaling RTT and both clocks' uncertainty, then jittered, capped, staggered
 * connects from the held ports (or a listener on the side whose NAT accepts unsolicited SYNs).
 * Returns the socket both sides agreed to keep; the node authenticates it.
 */
export function punch(init: PunchInit = {}): Strategy {
  const sockets = Math.max(1, Math.min(16, init.sockets ?? DEFAULT_SOCKETS))
  const predictions = Math.max(1, Math.min(64, init.predictions ?? DEFAULT_PREDICTIONS))
  const emit = (e: PunchEvent) => init.onEvent?.(e)

  /** Holds fresh local ports (and, remote, their STUN-observed mappings). */
  async function hold(
    mode: PunchMode,
    pair: InterfacePair,
    nat: NatRecord,
    peerNat: NatRecord,
    signal: AbortSignal,
  ): Promise<{ held: HeldMappings; spray: number[] }> {
    if (mode === 'self')
      return { held: await localMappings(LOOPBACK[pair.family], sockets, signal), spray: [] }
    if (mode === 'lan')
      return { held: await localMappings(pair.mine.nic, sockets, signal), spray: [] }
    const hard = sprayRole(nat, peerNat) === 'hard'
    const held = await observeMappings({
      servers: init.stunServers ?? [],
      // A sequential NAT gets one held port: its prediction continues from it. The random side
      // of a spray needs one mapping only, for its public IP: its spray sockets are fresh.
      count: isSequentialSymmetric(nat) || hard ? 1 : sockets,
      sequential: isSequentialSymmetric(nat),
      family: pair.family,
      signal,
      timeoutMs: init.stunTimeoutMs,
    })
    if (!hard) return { held, spray: [] }
    try {
      const n = sprayChoice(peerNat.range, init.spray).sockets
      const exclude = held.mappings.map((m) => m.local)
      return { held, spray: await freePorts(held.localAddress ?? '0.0.0.0', n, exclude, signal) }
    } catch (err) {
      await held.release()
      throw err
    }
  }

  /** Verdict with the spray budget: refuse a spray that cannot reach its floor. */
  const verdictOf = (a: NatRecord, b: NatRecord) =>
    punchVerdict(a, b, (random) => {
      const c = sprayChoice(random.range, init.spray)
      if (c.feasible) return true
      const size = c.range[1] - c.range[0] + 1
      return `not punchable: a spray of ${c.sockets} sockets × ${c.probes} probes over ${size} ports reaches only ${Math.round(c.probability * 100)} %`
    })

  /**
   * The spray schedule of one side: which pairs, when each fires, how long an attempt lives.
   * Hard (random) side: every fresh socket dials the cone's held mapping, opened at
   * `socketsPerSecond`; attempts are never cut (a SYN_SENT socket keeps its mapping alive) and
   * retried after a RST (each retry is a new random mapping). Easy (cone) side: one SYN per
   * guessed port from its held port, at `probesPerSecond`, starting once the random mappings
   * exist; one attempt each, capped.
   */
  function sprayDial(
    role: 'hard' | 'easy',
    choice: SprayChoice,
    me: LocalSide,
    spray: readonly number[],
    peer: SideInfo,
    timing: { windowMs: number; oneWayMs: number; uncertaintyMs: number },
  ): { pairs: DialPair[]; offsets: number[]; attemptTimeoutMs: number } {
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
      attemptTimeoutMs: init.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
    }
  }

  /** The window a spray needs: the probes, started late enough, plus one capped attempt. */
  const sprayWindow = (choice: SprayChoice, oneWayMs: number, uncertaintyMs: number) =>
    probeDelay(choice.openMs, uncertaintyMs, oneWayMs) +
    choice.probeMs +
    (init.attemptTimeoutMs ?? defaults.attemptTimeoutMs)

  /** The pairs this side dials, given who (if anyone) listens. */
  function plan(me: LocalSide, peer: SideInfo, acceptor: 'me' | 'peer' | 'none'): DialPair[] {
    if (acceptor === 'me') return []
    if (acceptor === 'none') return dialPairs(me, peer, Number.POSITIVE_INFINITY)
    // The peer listens on every held port: dial them all; retries are free.
    return samePairs(me, peer, Number.POSITIVE_INFINITY)
  }

  const localSide = (nat: NatRecord, held: HeldMappings, candidatePorts: number[]): LocalSide => ({
    nat,
    mappings: held.mappings.map((m) => m.ext),
    locals: held.mappings.map((m) => m.local),
    candidatePorts,
  })

  function startLoop(
    res: Resources,
    ctx: StrategyContext,
    pairs: DialPair[],
    startAt: number,
    windowMs: number,
    oneWayMs: number,
    onSocket: (s: Socket) => void,
    sprayed?: { offsets: number[]; attemptTimeoutMs: number },
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
      attemptTimeoutMs: sprayed?.attemptTimeoutMs ?? init.attemptTimeoutMs,
      onSocket,
    })
    res.loop = loop
    return loop
  }

  const publish = (ctx: StrategyContext, type: string, body: object, signal: AbortSignal) =>
    ctx.signaling.publish(
      { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal },
      { type, body },
      { signal },
    )

  async function connect(ctx: StrategyContext, signal: AbortSignal): Promise<RawConnection> {
    const pair = requirePair(ctx)
    const mode = punchMode(ctx.local, ctx.remote)
    const myNat = effectiveNat(mode, pair.mine.nat)
    const theirNat = effectiveNat(mode, pair.theirs.nat)
    const verdict = verdictOf(myNat, theirNat)
    if (verdict !== true) throw new PunchError('PUNCH_NOT_PUNCHABLE', verdict)
    const id = randomBytes(16).toString('hex')
    const res = new Resources()
    let winner: Socket | undefined
    let attempts = 0
    try {
      res.inbox = new Inbox(ctx.signaling, ctx.remote.nodeId, id, ctx.log)
      const { held, spray } = await hold(mode, pair, myNat, theirNat, signal)
      res.held = held
      const candidatePorts = predictCandidates(myNat, held.mappings, predictions)
      const me = localSide(myNat, held, candidatePorts)
      const localU = ctx.clock.uncertainty
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
      }
      const sentPerf = performance.now()
      await publish(ctx, MessageType.offer, offer, signal)
      const reply = await res.inbox.next(['answer', 'abort'], signal)
      if (reply.type === 'abort') {
        throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${reply.body.reason}`)
      }
      const answer: PunchAnswer = reply.body
      const rttMs = signalingRtt(sentPerf, reply.atPerf, answer.heldMs)
      const oneWayMs = oneWayDelay(rttMs)
      const acceptor = chooseAcceptor(mode, myNat, answer.nat)
      const sameClock = mode === 'self'
      const meetAt = meetingTime({
        nowMs: ctx.clock.now(),
        rttMs,
        localUncertaintyMs: localU,
        remoteUncertaintyMs: answer.uncertaintyMs,
        sameClock,
      })
      const peer: SideInfo = answer
      // The answer's NAT record is the one the peer acts on (it may carry the port range).
      const role = acceptor === 'none' ? sprayRole(myNat, answer.nat) : undefined
      const randomNat = role === 'hard' ? myNat : answer.nat
      const choice = role ? sprayChoice(randomNat.range, init.spray) : undefined
      const uncertaintyMs = relativeUncertainty(localU, answer.uncertaintyMs, sameClock)
      const windowMs = Math.max(
        punchWindow(localU, answer.uncertaintyMs, sameClock, init.windowMs),
        choice ? sprayWindow(choice, oneWayMs, uncertaintyMs) : 0,
      )
      const sprayed =
        role && choice
          ? sprayDial(role, choice, me, spray, peer, { windowMs, oneWayMs, uncertaintyMs })
          : undefined
      const pairs =
        sprayed?.pairs ??
        plan(me, peer, acceptor === 'offerer' ? 'me' : acceptor === 'answerer' ? 'peer' : 'none')
      emit({
        type: 'planned',
        role: 'offerer',
        mode,
        acceptor,
        meetAt,
        rttMs,
        windowMs,
        pairs: pairs.length,
        ...(role && choice ? { spray: { ...choice, role } } : {}),
      })

      let deliver: (s: Socket) => void = () => {}
      const first = new Promise<Socket>((resolve) => {
        deliver = resolve
      })
      let got = false
      const onSocket = (s: Socket) => {
        res.sockets.add(s)
        if (got) return void s.destroy()
        got = true
        deliver(s)
      }
      if (acceptor === 'offerer') {
        res.acceptor = await listenAsAcceptor(myNat, answer, held, onSocket)
      }
      const ready: PunchReady = { v: 1, kind: 'go', id, meetAt, acceptor, windowMs, oneWayMs }
      await publish(ctx, MessageType.ready, ready, signal)
      const overall = res.deadline(
        meetAt - ctx.clock.now() + windowMs + defaults.attemptTimeoutMs,
        signal,
        'punch window',
      )
      const ackOrAbort = res.inbox.next(['ack', 'abort'], overall)
      ackOrAbort.catch(() => {})
      const peerAbort = ackOrAbort.then((m) => (m.type === 'abort' ? m.body : undefined))
      if (acceptor === 'answerer') {
        // It listens once it has sent its ack: dial right away then, no instant to wait for.
        const m = await ackOrAbort
        if (m.type === 'abort') {
          throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${m.body.reason}`)
        }
      }
      const startAt = acceptor === 'none' ? meetAt : ctx.clock.now()
      const loop = pairs.length
        ? startLoop(res, ctx, pairs, startAt, windowMs, oneWayMs, onSocket, sprayed)
        : undefined
      winner = await firstSocket({
        sockets: first,
        signal: overall,
        peerAbort,
        loopDone: loop?.done,
        listening: acceptor === 'offerer',
      })
      attempts = loop?.attempts() ?? 0
      sendKeep(winner)
      emit({
        type: 'connected',
        role: 'offerer',
        attempts,
        local: `${winner.localAddress}:${winner.localPort}`,
        remote: `${winner.remoteAddress}:${winner.remotePort}`,
      })
      return rawConnection(winner)
    } catch (err) {
      emit({
        type: 'failed',
        role: 'offerer',
        reason: (err as Error).message,
        attempts: res.loop?.attempts() ?? attempts,
      })
      throw err
    } finally {
      await res.release(winner)
    }
  }

  async function accept(
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
      const verdict = verdictOf(myNat, offer.nat)
      if (verdict !== true) throw await refuse(verdict)
      res.inbox = new Inbox(ctx.signaling, ctx.remote.nodeId, offer.id, ctx.log)
      let held: HeldMappings
      let spray: number[]
      try {
        ;({ held, spray } = await hold(mode, pair, myNat, offer.nat, signal))
      } catch (err) {
        throw await refuse(`no mapping: ${(err as Error).message}`)
      }
      res.held = held
      const candidatePorts = predictCandidates(myNat, held.mappings, predictions)
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
        init.readyTimeoutMs ?? 10_000,
        signal,
        'waiting for punch/ready',
      )
      const m = await res.inbox.next(['go', 'abort'], readyWait)
      if (m.type === 'abort') {
        throw new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${m.body.reason}`)
      }
      const ready: PunchReady = m.body
      const role = ready.acceptor === 'none' ? sprayRole(myNat, offer.nat) : undefined
      const choice = role
        ? sprayChoice((role === 'hard' ? myNat : offer.nat).range, init.spray)
        : undefined
      const sprayed =
        role && choice
          ? sprayDial(role, choice, me, spray, offer, {
              windowMs: ready.windowMs,
              oneWayMs: ready.oneWayMs,
              uncertaintyMs: relativeUncertainty(
                ctx.clock.uncertainty,
                offer.uncertaintyMs,
                mode === 'self',
              ),
            })
          : undefined
      const pairs =
        sprayed?.pairs ??
        plan(
          me,
          offer,
          ready.acceptor === 'answerer' ? 'me' : ready.acceptor === 'offerer' ? 'peer' : 'none',
        )
      emit({
        type: 'planned',
        role: 'answerer',
        mode,
        acceptor: ready.acceptor,
        meetAt: ready.meetAt,
        rttMs: ready.oneWayMs * 2,
        windowMs: ready.windowMs,
        pairs: pairs.length,
        ...(role && choice ? { spray: { ...choice, role } } : {}),
      })
      const watcher = new KeepWatcher()
      res.watcher = watcher
      const onSocket = (s: Socket) => {
        res.sockets.add(s)
        watcher.add(s)
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
        startLoop(res, ctx, pairs, startAt, ready.windowMs, ready.oneWayMs, onSocket, sprayed)
      // The offerer decides which socket both keep: wait for its byte, even after our loop
      // has stopped (its socket may connect last).
      winner = await firstSocket({
        sockets: watcher.kept,
        signal: overall,
        peerAbort,
        listening: true,
      })
      emit({
        type: 'connected',
        role: 'answerer',
        attempts: res.loop?.attempts() ?? 0,
        local: `${winner.localAddress}:${winner.localPort}`,
        remote: `${winner.remoteAddress}:${winner.remotePort}`,
      })
      return rawConnection(winner)
    } catch (err) {
      emit({
        type: 'failed',
        role: 'answerer',
        reason: (err as Error).message,
        attempts: res.loop?.attempts() ?? 0,
      })
      throw err
    } finally {
      await res.release(winner)
    }
  }

  return {
    name: NAME,
    accepts: [MessageType.offer],
    canTry(local: PeerAddress, remote: PeerAddress): true | string {
      if (remote.legacy) return 'peer id is not a key'
      const pair = interfacePair(local, remote)
      if (!pair) return 'no IP family in common'
      const mode = punchMode(local, remote)
      const verdict = verdictOf(
        effectiveNat(mode, pair.mine.nat),
        effectiveNat(mode, pair.theirs.nat),
      )
      if (verdict !== true) return verdict
      if (mode === 'remote' && (init.stunServers?.length ?? 0) === 0)
        return 'no STUN server configured'
      return true
    },
    connect,
    accept,
  }
}
