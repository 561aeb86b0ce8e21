import { randomBytes } from 'node:crypto'
import type { Endpoint } from '@p2pd/interface'
import type { StunAddress } from '../attributes/address.js'
import { attr } from '../attributes/build.js'
import { readAttributes, reflexiveAddress, type StunAttributes } from '../attributes/read.js'
import type { ChangeRequest } from '../attributes/values.js'
import {
  createMessage,
  type DecodedStunMessage,
  type EncodeOptions,
  type StunAttribute,
  type StunMessage,
} from '../codec/message.js'
import { StunClass, StunMethod } from '../constants.js'
import { StunError } from '../errors.js'
import { sameEndpoint } from '../ip.js'

/** Options of one request/response exchange. */
export interface TransactionOptions {
  readonly signal?: AbortSignal
  /** Deadline for the whole transaction, retransmissions included (default 5,000 ms). */
  readonly timeoutMs?: number
  /**
   * Which source a response may come from. Default: the server the request went to (for a
   * Binding with CHANGE-REQUEST: an address changed as requested). `'any'` accepts any source;
   * a function decides itself. Responses from other sources are ignored, not errors.
   */
  readonly expectFrom?: Endpoint | 'any' | ((from: Endpoint) => boolean)
  /** Integrity / fingerprint for the request. */
  readonly encode?: EncodeOptions
}

/** UDP retransmission parameters (RFC 8489 §6.2.1). */
export interface RetransmitOptions {
  /** Initial RTO (default 500 ms); doubled after each retransmission. */
  readonly rtoMs?: number
  /** Rc: total number of requests sent (default 7). */
  readonly maxRequests?: number
  /** Rm: after the last request, wait Rm × initial RTO (default 16). */
  readonly lastWaitFactor?: number
}

/** A response to a request. Error responses are results too (TURN needs their 401/438). */
export interface TransactionResult {
  readonly response: DecodedStunMessage
  /** Where the response came from. */
  readonly from: Endpoint
  /** From the first request sent to the response (ms). */
  readonly rttMs: number
  /** How many requests were sent (1 over TCP). */
  readonly requests: number
}

/** What to put in a Binding request. */
export interface BindingRequestOptions {
  /** RFC 5780 CHANGE-REQUEST (UDP only: over TCP our server and coturn answer 400). */
  readonly changeRequest?: ChangeRequest
  /** RFC 5780 RESPONSE-PORT. */
  readonly responsePort?: number
  /** RFC 5780 PADDING of this many bytes. */
  readonly padding?: number
  readonly software?: string
  /** Extra attributes, appended as given. */
  readonly attributes?: readonly StunAttribute[]
  /**
   * Send an RFC 3489 request: the cookie field is random, so only servers that still honour
   * classic STUN will include MAPPED-ADDRESS / CHANGED-ADDRESS. Default false.
   */
  readonly legacy?: boolean
  /** Add FINGERPRINT (default true; ignored for legacy requests). */
  readonly fingerprint?: boolean
}

export type BindingOptions = TransactionOptions & BindingRequestOptions

/** The outcome of a Binding request. */
export interface BindingResult {
  /** The reflexive (mapped) address: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS. */
  readonly mapped: StunAddress
  /** Everything the response said, decoded. */
  readonly attributes: StunAttributes
  /** Our socket's local address. */
  readonly local: Endpoint
  /** Where the request went. */
  readonly server: Endpoint
  /** Where the response came from (differs from `server` after a CHANGE-REQUEST). */
  readonly from: Endpoint
  readonly rttMs: number
  readonly response: DecodedStunMessage
}

/** Builds the Binding request for {@link BindingRequestOptions}. */
export function bindingRequest(opts: BindingRequestOptions = {}): {
  message: StunMessage
  encode: EncodeOptions
} {
  const attributes: StunAttribute[] = []
  if (opts.software !== undefined) attributes.push(attr.software(opts.software))
  if (opts.changeRequest) attributes.push(attr.changeRequest(opts.changeRequest))
  if (opts.responsePort !== undefined) attributes.push(attr.responsePort(opts.responsePort))
  if (opts.padding !== undefined) attributes.push(attr.padding(opts.padding))
  if (opts.attributes) attributes.push(...opts.attributes)
  const legacy = opts.legacy ?? false
  const message = createMessage({
    method: StunMethod.Binding,
    cls: StunClass.Request,
    attributes,
    ...(legacy ? { cookie: legacyCookie() } : {}),
  })
  return { message, encode: { fingerprint: !legacy && (opts.fingerprint ?? true) } }
}

function legacyCookie(): number {
  // Anything but the magic cookie; random so the 128-bit legacy transaction id stays random.
  const c = randomBytes(4).readUInt32BE(0)
  return c === 0x2112a442 ? c ^ 1 : c
}

/** The default source check of a Binding: the server, or the address the change asked for. */
export function bindingSourceCheck(
  server: Endpoint,
  change: ChangeRequest | undefined,
): (from: Endpoint) => boolean {
  if (!change || (!change.changeIp && !change.changePort)) {
    return (from) => sameEndpoint(from, server)
  }
  return (from) =>
    (from.port !== server.port) === change.changePort &&
    !sameEndpoint({ host: from.host, port: 0 }, { host: server.host, port: 0 }) === change.changeIp
}

/** Turns a transaction's response into a {@link BindingResult}, or throws `StunError`. */
export function bindingResult(
  tx: TransactionResult,
  local: Endpoint,
  server: Endpoint,
): BindingResult {
  const { response } = tx
  const attributes = readAttributes(response)
  if (response.cls === StunClass.ErrorResponse) {
    const code = attributes.errorCode
    throw new StunError(
      'STUN_ERROR_RESPONSE',
      `Binding error response${code ? `: ${code.code} ${code.reason}` : ''}`,
      code ? { errorCode: code.code } : {},
    )
  }
  const mapped = reflexiveAddress(attributes)
  if (!mapped) throw new StunError('STUN_BAD_RESPONSE', 'Binding response has no mapped address')
  return { mapped, attributes, local, server, from: tx.from, rttMs: tx.rttMs, response }
}
