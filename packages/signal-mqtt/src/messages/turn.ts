import type { Endpoint } from '@p2pd/interface'
import { addressText, endpoint, guard, hex32, objectBody } from './fields.js'

/** Type tags of the TURN relay exchange. */
export const TURN_OFFER = 'turn/offer'
export const TURN_ANSWER = 'turn/answer'

/** Body of `turn/answer`: the responder's side of a relay. */
export interface TurnAnswer {
  /** Session id (32 hex), the offer's. */
  readonly id: string
  /** The sender's relayed transport address (XOR-RELAYED-ADDRESS), if it allocated one. */
  readonly relayed?: Endpoint
  /** The sender's address as the TURN server sees it (XOR-MAPPED-ADDRESS): the peer permits it. */
  readonly mapped: Endpoint
}

/** Body of `turn/offer` (starts a responder flow, so it carries the sender's address). */
export interface TurnOffer {
  readonly id: string
  readonly address: string
  /** The relayed address the peer should send to. */
  readonly relayed: Endpoint
  /** The sender's address as the TURN server sees it. */
  readonly mapped: Endpoint
  /** The TURN server that holds the allocation. */
  readonly server: Endpoint
}

/** Validates a `turn/offer` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseTurnOffer(body: unknown): TurnOffer {
  const o = objectBody(TURN_OFFER, body)
  return {
    id: hex32(TURN_OFFER, 'id', o.id),
    address: addressText(TURN_OFFER, 'address', o.address),
    relayed: endpoint(TURN_OFFER, 'relayed', o.relayed),
    mapped: endpoint(TURN_OFFER, 'mapped', o.mapped),
    server: endpoint(TURN_OFFER, 'server', o.server),
  }
}

/** Validates a `turn/answer` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseTurnAnswer(body: unknown): TurnAnswer {
  const o = objectBody(TURN_ANSWER, body)
  const answer = {
    id: hex32(TURN_ANSWER, 'id', o.id),
    mapped: endpoint(TURN_ANSWER, 'mapped', o.mapped),
  }
  return o.relayed === undefined
    ? answer
    : { ...answer, relayed: endpoint(TURN_ANSWER, 'relayed', o.relayed) }
}

export const isTurnOffer = guard(parseTurnOffer)
export const isTurnAnswer = guard(parseTurnAnswer)
