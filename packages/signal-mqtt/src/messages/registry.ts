import type { SignalMessage } from '@p2pd/interface'
import { SignalMessageError } from '../errors.js'
import { ADDRESS_GET, ADDRESS_RETURN, parseAddressGet, parseAddressReturn } from './address.js'
import { DEFAULT_MAX_APP_BODY_BYTES, isAppType, parseAppBody } from './app.js'
import {
  PUNCH_ANSWER,
  PUNCH_OFFER,
  PUNCH_READY,
  parsePunchAnswer,
  parsePunchOffer,
  parsePunchReady,
} from './punch.js'
import { parseReverseRequest, REVERSE_REQUEST } from './reverse.js'
import { parseTurnAnswer, parseTurnOffer, TURN_ANSWER, TURN_OFFER } from './turn.js'

/** The built-in message types and their body validators. */
export const MESSAGE_SCHEMAS: Readonly<Record<string, (body: unknown) => unknown>> = {
  [REVERSE_REQUEST]: parseReverseRequest,
  [PUNCH_OFFER]: parsePunchOffer,
  [PUNCH_ANSWER]: parsePunchAnswer,
  [PUNCH_READY]: parsePunchReady,
  [TURN_OFFER]: parseTurnOffer,
  [TURN_ANSWER]: parseTurnAnswer,
  [ADDRESS_GET]: parseAddressGet,
  [ADDRESS_RETURN]: parseAddressReturn,
}

/** Longest type tag. */
export const MAX_TYPE_LENGTH = 64

const TYPE_SHAPE = /^[a-z0-9][a-z0-9._-]*(\/[a-zA-Z0-9._-]+)+$/

/**
 * Validates a message against its schema: a built-in type (`reverse/request`, `punch/offer`,
 * `punch/answer`, `punch/ready`, `turn/offer`, `turn/answer`, `address/get`,
 * `address/return`) or a user type under `app/…` (any JSON body up to `maxAppBodyBytes`).
 * Anything else is refused. Extra body fields of built-in types are allowed (forward
 * compatibility) and passed on untouched.
 * @throws {@link SignalMessageError}
 */
export function validateSignalMessage(
  message: SignalMessage,
  options: { maxAppBodyBytes?: number } = {},
): void {
  const type = (message as { type?: unknown } | null)?.type
  if (typeof type !== 'string' || type.length > MAX_TYPE_LENGTH || !TYPE_SHAPE.test(type)) {
    throw new SignalMessageError('SIGNAL_MESSAGE_TYPE', 'malformed message type')
  }
  const schema = Object.hasOwn(MESSAGE_SCHEMAS, type) ? MESSAGE_SCHEMAS[type] : undefined
  if (schema) {
    schema(message.body)
    return
  }
  if (isAppType(type)) {
    parseAppBody(type, message.body, options.maxAppBodyBytes ?? DEFAULT_MAX_APP_BODY_BYTES)
    return
  }
  throw new SignalMessageError('SIGNAL_MESSAGE_TYPE', `unknown message type ${type}`)
}
