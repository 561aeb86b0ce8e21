import type { Endpoint, NatInfo } from '@p2pd/interface'
import {
  addressText,
  bad,
  endpoint,
  epochMs,
  guard,
  hex32,
  list,
  natInfo,
  objectBody,
  port,
} from './fields.js'

/** Type tags of the TCP hole-punching exchange. */
export const PUNCH_OFFER = 'punch/offer'
export const PUNCH_ANSWER = 'punch/answer'
export const PUNCH_READY = 'punch/ready'

/** What offer and answer both carry: where to punch, and when. */
export interface PunchPlan {
  /** Session id, 16 random bytes as 32 hex; the answer and `ready` repeat the offer's. */
  readonly id: string
  /** The sender's predicted external mappings (STUN-observed), best first. */
  readonly mappings: readonly Endpoint[]
  /** The sender's NAT, for the peer's prediction. */
  readonly nat?: NatInfo
  /** Extra external ports to try (port prediction), at most 64. */
  readonly candidatePorts?: readonly number[]
  /** Proposed meeting time: ms since the epoch on the sender's skew-corrected clock. */
  readonly meetAt: number
}

/** Body of `punch/offer` (starts a responder flow, so it carries the sender's address). */
export interface PunchOffer extends PunchPlan {
  readonly address: string
}

/** Body of `punch/answer`: the responder's plan; `meetAt` is the time both will use. */
export type PunchAnswer = PunchPlan

/** The three `punch/ready` kinds: the binding meeting instant, its acknowledgement, or abort. */
export const PUNCH_READY_KINDS = ['go', 'ack', 'abort'] as const

/**
 * Body of `punch/ready`: `go` fixes the meeting time, `ack` confirms it (both sides armed),
 * `abort` calls the punch off. `@p2pd/punch` adds its own fields and checks them itself.
 */
export interface PunchReady {
  readonly id: string
  readonly kind: (typeof PUNCH_READY_KINDS)[number]
  readonly meetAt?: number
}

function parsePlan(type: string, o: Record<string, unknown>): PunchPlan {
  const plan: PunchPlan = {
    id: hex32(type, 'id', o.id),
    mappings: list(type, 'mappings', o.mappings, (m, i) => endpoint(type, `mappings[${i}]`, m)),
    meetAt: epochMs(type, 'meetAt', o.meetAt),
  }
  const nat = o.nat === undefined ? undefined : natInfo(type, 'nat', o.nat)
  const candidatePorts =
    o.candidatePorts === undefined
      ? undefined
      : list(
          type,
          'candidatePorts',
          o.candidatePorts,
          (p, i) => port(type, `candidatePorts[${i}]`, p),
          true,
        )
  return {
    ...plan,
    ...(nat ? { nat } : {}),
    ...(candidatePorts ? { candidatePorts } : {}),
  }
}

/** Validates a `punch/offer` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parsePunchOffer(body: unknown): PunchOffer {
  const o = objectBody(PUNCH_OFFER, body)
  return { ...parsePlan(PUNCH_OFFER, o), address: addressText(PUNCH_OFFER, 'address', o.address) }
}

/** Validates a `punch/answer` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parsePunchAnswer(body: unknown): PunchAnswer {
  return parsePlan(PUNCH_ANSWER, objectBody(PUNCH_ANSWER, body))
}

/** Validates a `punch/ready` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parsePunchReady(body: unknown): PunchReady {
  const o = objectBody(PUNCH_READY, body)
  const id = hex32(PUNCH_READY, 'id', o.id)
  const kind = PUNCH_READY_KINDS.find((k) => k === o.kind)
  if (!kind) bad(PUNCH_READY, 'kind', `must be one of ${PUNCH_READY_KINDS.join(', ')}`)
  return o.meetAt === undefined
    ? { id, kind }
    : { id, kind, meetAt: epochMs(PUNCH_READY, 'meetAt', o.meetAt) }
}

export const isPunchOffer = guard(parsePunchOffer)
export const isPunchAnswer = guard(parsePunchAnswer)
export const isPunchReady = guard(parsePunchReady)
