import { addressText, guard, hex32, objectBody } from './fields.js'

/** Type tag of a connect-back request. */
export const REVERSE_REQUEST = 'reverse/request'

/**
 * Body of `reverse/request`: "dial me (at `address`) back, and present this token". The same
 * shape as `ReverseRequest` in `@p2pd/node`'s reverse strategy.
 */
export interface ReverseRequest {
  /** 16 random bytes, 32 lowercase hex: the dial-back preamble presents it. */
  readonly token: string
  /** The requester's peer-address text (the node checks it names the verified sender). */
  readonly address: string
}

/** Validates a `reverse/request` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseReverseRequest(body: unknown): ReverseRequest {
  const o = objectBody(REVERSE_REQUEST, body)
  return {
    token: hex32(REVERSE_REQUEST, 'token', o.token),
    address: addressText(REVERSE_REQUEST, 'address', o.address),
  }
}

/** True when `body` is a valid `reverse/request` body. */
export const isReverseRequest = guard(parseReverseRequest)
