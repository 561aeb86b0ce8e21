import { isIP } from 'node:net'
import type { DeltaType, Endpoint, NatType, TcpFilter } from '@p2pd/interface'
import { PunchError } from '../errors.js'

/**
 * The punch protocol over `Signaling` (message types `punch/<kind>`). Every body is validated
 * strictly by the `parse*` functions below: anything else is a {@link PunchError}
 * `PUNCH_BAD_MESSAGE` and the message is dropped.
 *
 * ```
 * offerer                                        answerer
 *   │ STUN over TCP: fresh mappings (held)          │
 *   │── punch/offer {mappings, nat, candidates} ───▶│ STUN: its fresh mappings (held)
 *   │◀──── punch/answer {mappings, nat, heldMs} ────│
 *   │ RTT measured → meetAt, acceptor, window       │
 *   │── punch/ready {kind: go, meetAt, acceptor} ──▶│ arms sockets (binds / listens)
 *   │◀─────────────── punch/ready {kind: ack} ──────│
 *   │ ══════ SYNs at meetAt (both clocks) ═══════   │
 *   │── 1 byte KEEP on the socket it keeps ────────▶│ (then the node's secure channel)
 * ```
 *
 * Answer-and-go: an offer with `go: true` lets the answerer fix the plan itself and send it in
 * the answer (`plan`); then no `punch/ready` round follows and both start at `plan.meetAt`.
 * Dial first: an offer with `dialing` proposes the answerer's local ports, which the offerer
 * already dials; an answerer that takes them dials at once (`flow/early.ts`).
 *
 * The bodies are a superset of `@p2pd/signal-mqtt`'s schemas for `punch/offer|answer|ready`
 * (which refuse unknown types), so the ack and the abort travel as `punch/ready` with a
 * `kind`. Integers only for times (epoch ms).
 */
export const PROTOCOL_VERSION = 1

export const MessageType = {
  offer: 'punch/offer',
  answer: 'punch/answer',
  ready: 'punch/ready',
} as const

/** How the two peers see each other (decides which addresses are punched). */
export type PunchMode = 'remote' | 'lan' | 'self'

/** Who listens instead of dialling (`none`: both dial, a true simultaneous open). */
export type Acceptor = 'offerer' | 'answerer' | 'none'

/** One held local port and where the peer must send to reach it (kept locally). */
export interface Mapping {
  /** Our local port (bound explicitly; never the node's listen port). */
  readonly local: number
  /** The endpoint the peer dials: the NAT mapping (remote) or our own IP and port (lan/self). */
  readonly ext: Endpoint
}

/** Our NAT, as the peer address carries it. */
export interface NatRecord {
  readonly type: NatType
  readonly delta: { readonly type: DeltaType; readonly value: number }
  /** External port allocation range `[low, high]`, when known (aims a birthday spray). */
  readonly range?: readonly [number, number]
  /**
   * The NAT's TCP filter as measured (filtering, and `drop` or `rst` for a refused SYN), when
   * the sender knows it: it paces the peer's first SYNs (see `schedule.ts`, `firstSynAt`).
   */
  readonly tcp?: TcpFilter
}

export interface PunchOffer {
  readonly v: 1
  /** 32 hex chars; names this punch in every later message. */
  readonly id: string
  /** The offerer's peer-address text (the node checks it belongs to the verified sender). */
  readonly address: string
  readonly mode: PunchMode
  /** Where to dial us, one endpoint per held port (external mappings, or LAN/loopback). */
  readonly mappings: readonly Endpoint[]
  /** Predicted external ports of the next mappings (sequential NATs), best first. */
  readonly candidatePorts: readonly number[]
  readonly nat: NatRecord
  /** The offerer's clock uncertainty, ms. */
  readonly uncertaintyMs: number
  /** Offerer's clock when sent (epoch ms). */
  readonly sentAt: number
  /** A first proposal (the binding instant comes in `punch/ready`). */
  readonly meetAt: number
  /**
   * The offerer takes the plan in the answer (answer-and-go): an answerer that sets
   * `PunchAnswer.plan` starts at its instant, and no `punch/ready` round follows.
   */
  readonly go?: boolean
  /**
   * Dial first (`flow/early.ts`): the local ports the answerer should use, one per mapping of
   * ours; we already dial its external IP at these ports. An answerer that binds them all
   * dials at once.
   */
  readonly dialing?: readonly number[]
}

/** The plan of a punch: the instant, who listens, the window and the pacing. */
export interface PunchPlan {
  /** The meeting instant, epoch ms on the (skew-corrected) clocks. */
  readonly meetAt: number
  readonly acceptor: Acceptor
  /** How long after `meetAt` both sides keep trying, ms. */
  readonly windowMs: number
  /** Estimated one-way delay between the peers, ms (paces retries and staggers). */
  readonly oneWayMs: number
}

export interface PunchAnswer {
  readonly v: 1
  readonly id: string
  readonly mappings: readonly Endpoint[]
  readonly candidatePorts: readonly number[]
  readonly nat: NatRecord
  readonly uncertaintyMs: number
  /** Time the answerer held the offer before answering (its STUN probes), ms. */
  readonly heldMs: number
  readonly sentAt: number
  /** The offer's proposal, echoed (the binding instant comes in `punch/ready`). */
  readonly meetAt: number
  /**
   * Answer-and-go (only when the offer said `go`): the binding plan, fixed by the answerer from
   * the offer's measured one-way delay; the answerer is armed and starts at `plan.meetAt`.
   */
  readonly plan?: PunchPlan
}

/** `punch/ready` from the offerer: the plan and the binding instant. */
export interface PunchReady {
  readonly v: 1
  readonly kind: 'go'
  readonly id: string
  /** The meeting instant, epoch ms on the (skew-corrected) clocks. */
  readonly meetAt: number
  readonly acceptor: Acceptor
  /** How long after `meetAt` both sides keep trying, ms. */
  readonly windowMs: number
  /** Estimated one-way delay between the peers, ms (paces retries). */
  readonly oneWayMs: number
}

/** `punch/ready` from the answerer: armed (bound, and listening if it accepts). */
export interface PunchAck {
  readonly v: 1
  readonly kind: 'ack'
  readonly id: string
}

/** `punch/ready` from either side: giving up, and why. */
export interface PunchAbort {
  readonly v: 1
  readonly kind: 'abort'
  readonly id: string
  readonly reason: string
}

/** Any `punch/ready` body. */
export type PunchReadyMessage = PunchReady | PunchAck | PunchAbort

export const LIMITS = {
  mappings: 16,
  candidates: 64,
  addressChars: 4096,
  reasonChars: 200,
  /** Bound on any duration field (ms): nothing in a punch lasts a minute. */
  durationMs: 60_000,
} as const

const bad = (what: string): never => {
  throw new PunchError('PUNCH_BAD_MESSAGE', `bad punch message: ${what}`)
}

type Obj = Record<string, unknown>

function object(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return bad(`${what} is not an object`)
  return v as Obj
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return bad(`${what} must be an integer in [${min}, ${max}]`)
  }
  return v
}

function num(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    return bad(`${what} must be a number in [${min}, ${max}]`)
  }
  return v
}

const port = (v: unknown, what: string) => int(v, what, 1, 65535)
/** Integer epoch ms between 2000 and 2200: rejects seconds, garbage and overflow. */
const epochMs = (v: unknown, what: string) => int(v, what, 946_684_800_000, 7_258_118_400_000)

function header(body: unknown, kind: string): Obj {
  const o = object(body, kind)
  if (o.v !== PROTOCOL_VERSION) bad(`${kind}: unsupported version`)
  if (typeof o.id !== 'string' || !/^[0-9a-f]{32}$/.test(o.id)) bad(`${kind}: id must be 32 hex`)
  return o
}

function endpoint(v: unknown, what: string): Endpoint {
  const o = object(v, what)
  if (typeof o.host !== 'string' || o.host.length > 64 || isIP(o.host) === 0) {
    bad(`${what}.host must be an IP address`)
  }
  return { host: o.host as string, port: port(o.port, `${what}.port`) }
}

function mappings(v: unknown): Endpoint[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.mappings) {
    return bad(`mappings must hold 1–${LIMITS.mappings} entries`)
  }
  return v.map((m, i) => endpoint(m, `mappings[${i}]`))
}

function candidates(v: unknown): number[] {
  if (!Array.isArray(v) || v.length > LIMITS.candidates) {
    return bad(`candidatePorts must hold at most ${LIMITS.candidates} ports`)
  }
  return v.map((p, i) => port(p, `candidatePorts[${i}]`))
}

function nat(v: unknown): NatRecord {
  const o = object(v, 'nat')
  const d = object(o.delta, 'nat.delta')
  const record: NatRecord = {
    type: int(o.type, 'nat.type', 1, 7) as NatType,
    delta: {
      type: int(d.type, 'nat.delta.type', 1, 6) as DeltaType,
      value: int(d.value, 'nat.delta.value', -65535, 65535),
    },
  }
  const withTcp = o.tcp === undefined ? record : { ...record, tcp: tcpFilter(o.tcp) }
  if (o.range === undefined) return withTcp
  if (!Array.isArray(o.range) || o.range.length !== 2) return bad('nat.range must be [low, high]')
  const low = port(o.range[0], 'nat.range[0]')
  const high = port(o.range[1], 'nat.range[1]')
  if (low > high) bad('nat.range must be [low, high]')
  return { ...withTcp, range: [low, high] }
}

const FILTERINGS = ['EIF', 'ADF', 'APDF', 'unknown'] as const
const SYN_POLICIES = ['drop', 'rst', 'unknown'] as const

function tcpFilter(v: unknown): TcpFilter {
  const o = object(v, 'nat.tcp')
  const filtering = o.filtering as TcpFilter['filtering']
  const synPolicy = o.synPolicy as TcpFilter['synPolicy']
  if (!FILTERINGS.includes(filtering)) bad(`nat.tcp.filtering must be one of ${FILTERINGS}`)
  if (!SYN_POLICIES.includes(synPolicy)) bad(`nat.tcp.synPolicy must be one of ${SYN_POLICIES}`)
  return { filtering, synPolicy }
}

function mode(v: unknown): PunchMode {
  if (v !== 'remote' && v !== 'lan' && v !== 'self') return bad('mode must be remote, lan or self')
  return v
}

function acceptor(v: unknown): Acceptor {
  if (v !== 'offerer' && v !== 'answerer' && v !== 'none') return bad('acceptor is invalid')
  return v
}

function plan(v: unknown): PunchPlan {
  const o = object(v, 'plan')
  return {
    meetAt: epochMs(o.meetAt, 'plan.meetAt'),
    acceptor: acceptor(o.acceptor),
    windowMs: num(o.windowMs, 'plan.windowMs', 1, LIMITS.durationMs),
    oneWayMs: num(o.oneWayMs, 'plan.oneWayMs', 0, LIMITS.durationMs),
  }
}

export function parseOffer(body: unknown): PunchOffer {
  const o = header(body, 'offer')
  if (typeof o.address !== 'string' || o.address.length === 0) bad('offer.address is missing')
  if ((o.address as string).length > LIMITS.addressChars) bad('offer.address is too long')
  return {
    v: 1,
    id: o.id as string,
    address: o.address as string,
    mode: mode(o.mode),
    mappings: mappings(o.mappings),
    candidatePorts: candidates(o.candidatePorts),
    nat: nat(o.nat),
    uncertaintyMs: num(o.uncertaintyMs, 'uncertaintyMs', 0, LIMITS.durationMs),
    sentAt: epochMs(o.sentAt, 'sentAt'),
    meetAt: epochMs(o.meetAt, 'meetAt'),
    ...(o.go === undefined ? {} : { go: flag(o.go, 'go') }),
    ...(o.dialing === undefined ? {} : { dialing: dialing(o.dialing) }),
  }
}

function dialing(v: unknown): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.mappings) {
    return bad(`dialing must hold 1–${LIMITS.mappings} ports`)
  }
  return v.map((p, i) => port(p, `dialing[${i}]`))
}

function flag(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') return bad(`${what} must be a boolean`)
  return v
}

export function parseAnswer(body: unknown): PunchAnswer {
  const o = header(body, 'answer')
  return {
    v: 1,
    id: o.id as string,
    mappings: mappings(o.mappings),
    candidatePorts: candidates(o.candidatePorts),
    nat: nat(o.nat),
    uncertaintyMs: num(o.uncertaintyMs, 'uncertaintyMs', 0, LIMITS.durationMs),
    heldMs: num(o.heldMs, 'heldMs', 0, LIMITS.durationMs),
    sentAt: epochMs(o.sentAt, 'sentAt'),
    meetAt: epochMs(o.meetAt, 'meetAt'),
    ...(o.plan === undefined ? {} : { plan: plan(o.plan) }),
  }
}

/** Parses any `punch/ready` body: the offerer's `go`, the answerer's `ack`, or an `abort`. */
export function parseReady(body: unknown): PunchReadyMessage {
  const o = header(body, 'ready')
  const id = o.id as string
  if (o.kind === 'go') {
    return {
      v: 1,
      kind: 'go',
      id,
      meetAt: epochMs(o.meetAt, 'meetAt'),
      acceptor: acceptor(o.acceptor),
      windowMs: num(o.windowMs, 'windowMs', 1, LIMITS.durationMs),
      oneWayMs: num(o.oneWayMs, 'oneWayMs', 0, LIMITS.durationMs),
    }
  }
  if (o.kind === 'ack') return { v: 1, kind: 'ack', id }
  if (o.kind === 'abort') {
    if (typeof o.reason !== 'string' || o.reason.length > LIMITS.reasonChars) {
      bad(`abort.reason must be a string of at most ${LIMITS.reasonChars} chars`)
    }
    return { v: 1, kind: 'abort', id, reason: o.reason as string }
  }
  return bad('ready.kind must be go, ack or abort')
}
