import type { Endpoint } from '@p2pd/interface'
import { addressText, endpoint, guard, int, objectBody, text } from './fields.js'

/** Type tags of the TURN relay exchange (the shapes `@p2pd/turn`'s strategy sends). */
export const TURN_OFFER = 'turn/offer'
export const TURN_ANSWER = 'turn/answer'

/** Largest session id: it doubles as the reliable stream's 32-bit conversation id. */
const MAX_CONV = 0xffff_ffff

/** Body of `turn/offer` (starts a responder flow, so it carries the sender's address). */
export interface TurnOffer {
  /** Session id, also the reliable stream's conversation id (uint32). */
  readonly id: number
  readonly address: string
  /** The offerer's relayed address, which the answerer sends to through its own relay. */
  readonly relayed: Endpoint
}

/** Body of `turn/answer`: the answerer's relayed address, or why it could not relay. */
export interface TurnAnswer {
  readonly id: number
  readonly relayed?: Endpoint
  readonly error?: string
}

/** Validates a `turn/offer` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseTurnOffer(body: unknown): TurnOffer {
  const o = objectBody(TURN_OFFER, body)
  return {
    id: int(TURN_OFFER, 'id', o.id, 0, MAX_CONV),
    address: addressText(TURN_OFFER, 'address', o.address),
    relayed: endpoint(TURN_OFFER, 'relayed', o.relayed),
  }
}

/** Validates a `turn/answer` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseTurnAnswer(body: unknown): TurnAnswer {
  const o = objectBody(TURN_ANSWER, body)
  return {
    id: int(TURN_ANSWER, 'id', o.id, 0, MAX_CONV),
    ...(o.relayed === undefined ? {} : { relayed: endpoint(TURN_ANSWER, 'relayed', o.relayed) }),
    ...(o.error === undefined ? {} : { error: text(TURN_ANSWER, 'error', o.error, 200) }),
  }
}

export const isTurnOffer = guard(parseTurnOffer)
export const isTurnAnswer = guard(parseTurnAnswer)
