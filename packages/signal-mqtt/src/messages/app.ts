import { SignalMessageError } from '../errors.js'

/** Prefix of user message types: `app/<anything>` passes through with only a size cap. */
export const APP_PREFIX = 'app/'

/** Default cap on an `app/…` body, in bytes of its JSON text. */
export const DEFAULT_MAX_APP_BODY_BYTES = 8 * 1024

/** True when `type` is a user message type (`app/` followed by at least one character). */
export function isAppType(type: string): boolean {
  return type.startsWith(APP_PREFIX) && type.length > APP_PREFIX.length
}

/**
 * Checks an `app/…` body: any JSON value whose JSON text is at most `maxBytes` (UTF-8).
 * Throws `SignalMessageError` `SIGNAL_MESSAGE_TOO_LARGE` or `SIGNAL_MESSAGE_BODY` (not JSON).
 */
export function parseAppBody(
  type: string,
  body: unknown,
  maxBytes = DEFAULT_MAX_APP_BODY_BYTES,
): unknown {
  let json: string | undefined
  try {
    json = JSON.stringify(body)
  } catch (err) {
    throw new SignalMessageError('SIGNAL_MESSAGE_BODY', `${type}: body is not JSON`, { cause: err })
  }
  if (json === undefined) throw new SignalMessageError('SIGNAL_MESSAGE_BODY', `${type}: no body`)
  if (Buffer.byteLength(json) > maxBytes) {
    throw new SignalMessageError('SIGNAL_MESSAGE_TOO_LARGE', `${type}: body over ${maxBytes} bytes`)
  }
  return body
}
