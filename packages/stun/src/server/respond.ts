import type { Endpoint } from '@p2pd/interface'
import { attr } from '../attributes/build.js'
import { readAttributes } from '../attributes/read.js'
import {
  createMessage,
  type DecodedStunMessage,
  decodeMessage,
  encodeMessage,
  type StunAttribute,
} from '../codec/message.js'
import { AttrType, isComprehensionRequired, StunClass, StunMethod } from '../constants.js'
import { StunError } from '../errors.js'

/** Index of an IP (0 primary, 1 alternate) and of a port (0 primary, 1 alternate). */
export interface Slot {
  readonly ip: 0 | 1
  readonly port: 0 | 1
}

export interface RespondContext {
  readonly transport: 'udp' | 'tcp'
  /** Where the request arrived. */
  readonly slot: Slot
  /** The client, as seen by the server. */
  readonly remote: Endpoint
  /** The server's address for a slot. */
  readonly addressOf: (slot: Slot) => Endpoint
  readonly software?: string
  /** Honour RESPONSE-PORT (UDP only). */
  readonly allowResponsePort: boolean
  /** Appended to a success response (the TCP-CALLBACK-RESULT of a dial-back). */
  readonly extraAttributes?: readonly StunAttribute[]
}

/** What to send back: the bytes, from which slot, to where. */
export interface Reply {
  readonly bytes: Buffer
  readonly via: Slot
  readonly to: Endpoint
}

/** Comprehension-required attributes a Binding request may carry without a 420. */
const UNDERSTOOD = new Set<number>([
  AttrType.MappedAddress,
  AttrType.ResponseAddress,
  AttrType.ChangeRequest,
  AttrType.SourceAddress,
  AttrType.ChangedAddress,
  AttrType.Username,
  AttrType.MessageIntegrity,
  AttrType.ErrorCode,
  AttrType.UnknownAttributes,
  AttrType.Realm,
  AttrType.Nonce,
  AttrType.MessageIntegritySha256,
  AttrType.PasswordAlgorithm,
  AttrType.Userhash,
  AttrType.XorMappedAddress,
  AttrType.Priority,
  AttrType.UseCandidate,
  AttrType.Padding,
  AttrType.ResponsePort,
])

/**
 * The RFC 5780 behaviour-discovery answer to one datagram or TCP frame, or undefined when it
 * gets none (not STUN, not a request). Pure: the caller sends `bytes` from `via` to `to`.
 *
 * - Binding success: XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN (the slot it is sent
 *   from), OTHER-ADDRESS (the other IP *and* port of the slot it arrived on), SOFTWARE, PADDING
 *   echoed, FINGERPRINT. RFC 3489 requests (no magic cookie) get MAPPED-ADDRESS,
 *   SOURCE-ADDRESS and CHANGED-ADDRESS, as classic clients (P2PD) expect.
 * - CHANGE-REQUEST over UDP: sent from the other IP and/or port. Over TCP the answer must use
 *   the same connection, so a request asking for a change gets 400 (Bad Request), exactly as
 *   coturn answers it ("applicable only to UDP protocol"). Clients should read any error
 *   response to a change request as "not honoured here". A CHANGE-REQUEST with no flag set is
 *   fine over TCP.
 * - Unknown comprehension-required attributes: 420. Other methods: 400. Malformed known
 *   attributes: 400.
 */
export function respond(data: Buffer, ctx: RespondContext): Reply | undefined {
  let req: DecodedStunMessage
  try {
    req = decodeMessage(data, { allowLegacy: true, maxAttributes: 32 })
  } catch (err) {
    if (err instanceof StunError) return undefined
    throw err
  }
  if (req.cls !== StunClass.Request) return undefined
  const error = (code: number, reason: string, extra: StunAttribute[] = []): Reply => ({
    bytes: encodeMessage(
      createMessage({
        method: req.method,
        cls: StunClass.ErrorResponse,
        transactionId: req.transactionId,
        attributes: [attr.errorCode(code, reason), ...extra, ...softwareAttr(ctx)],
        ...(req.cookie === undefined ? {} : { cookie: req.cookie }),
      }),
      { fingerprint: !req.legacy },
    ),
    via: ctx.slot,
    to: ctx.remote,
  })
  if (req.method !== StunMethod.Binding) return error(400, 'Bad Request: only Binding')
  const unknown = req.attributes
    .map((a) => a.type)
    .filter((t) => isComprehensionRequired(t) && !UNDERSTOOD.has(t))
  if (unknown.length > 0) {
    return error(420, 'Unknown Attribute', [
      attr.unknownAttributes([...new Set(unknown)].slice(0, 16)),
    ])
  }
  let attrs: ReturnType<typeof readAttributes>
  try {
    attrs = readAttributes(req)
  } catch (err) {
    if (err instanceof StunError) return error(400, 'Bad Request')
    throw err
  }
  const change = attrs.changeRequest
  const wantsChange = change !== undefined && (change.changeIp || change.changePort)
  if (wantsChange && ctx.transport === 'tcp') {
    return error(400, 'Bad Request: CHANGE-REQUEST applies only to UDP')
  }
  const via: Slot = {
    ip: (change?.changeIp ? 1 - ctx.slot.ip : ctx.slot.ip) as 0 | 1,
    port: (change?.changePort ? 1 - ctx.slot.port : ctx.slot.port) as 0 | 1,
  }
  const origin = ctx.addressOf(via)
  const other = ctx.addressOf({
    ip: (1 - ctx.slot.ip) as 0 | 1,
    port: (1 - ctx.slot.port) as 0 | 1,
  })
  const attributes: StunAttribute[] = req.legacy
    ? [attr.mappedAddress(ctx.remote), attr.sourceAddress(origin), attr.changedAddress(other)]
    : [
        attr.xorMappedAddress(ctx.remote, req.transactionId),
        attr.mappedAddress(ctx.remote),
        attr.responseOrigin(origin),
        attr.otherAddress(other),
      ]
  attributes.push(...softwareAttr(ctx))
  if (ctx.extraAttributes && !req.legacy) attributes.push(...ctx.extraAttributes)
  if (attrs.padding !== undefined) attributes.push(attr.padding(attrs.padding))
  const to =
    ctx.transport === 'udp' && ctx.allowResponsePort && attrs.responsePort !== undefined
      ? { host: ctx.remote.host, port: attrs.responsePort }
      : ctx.remote
  const bytes = encodeMessage(
    createMessage({
      method: StunMethod.Binding,
      cls: StunClass.SuccessResponse,
      transactionId: req.transactionId,
      attributes,
      ...(req.cookie === undefined ? {} : { cookie: req.cookie }),
    }),
    { fingerprint: !req.legacy },
  )
  return { bytes, via, to }
}

function softwareAttr(ctx: RespondContext): StunAttribute[] {
  return ctx.software ? [attr.software(ctx.software)] : []
}
