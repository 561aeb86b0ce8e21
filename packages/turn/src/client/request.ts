import { throwIfAborted } from '@p2pd/interface'
import {
  attr,
  createMessage,
  type DecodedStunMessage,
  newTransactionId,
  readAttributes,
  type StunAttribute,
  StunClass,
  StunMethod,
  verifyIntegrity,
} from '@p2pd/stun'
import { TurnError, turnErrorCodeFor } from '../errors.js'
import type { LongTermAuth } from './auth.js'
import type { ServerConnection } from './transport.js'

/**
 * SOFTWARE of a request sent before we have credentials. A server that refuses to be a
 * reflection amplifier (ours does) answers a stranger only with as many bytes as it received;
 * a bare 44-byte Allocate cannot pay for its 401 and would wait a retransmission. This
 * (comprehension-optional, so every server ignores it) makes the first request ≥ 88 bytes.
 */
const UNAUTHENTICATED_SOFTWARE = 'p2pd turn client; first request padded to pay'

/** What {@link authenticatedRequest} needs from the client's options. */
export interface RequestTuning {
  readonly requestTimeoutMs?: number
  readonly rtoMs?: number
  readonly software?: string
}

/**
 * One request with long-term authentication: unauthenticated first, then signed after the
 * 401; a 438 (stale nonce) is retried with the fresh nonce and a fresh transaction id.
 * Success responses must carry valid integrity once we have a key. Error responses become a
 * typed {@link TurnError} (`errorCode` = the STUN status).
 */
export async function authenticatedRequest(
  conn: ServerConnection,
  auth: LongTermAuth,
  tuning: RequestTuning,
  method: number,
  build: (transactionId: Uint8Array) => StunAttribute[],
  signal: AbortSignal,
  onRoundTrip?: (ms: number) => void,
): Promise<DecodedStunMessage> {
  let unauthorized = 0
  let stale = 0
  for (;;) {
    throwIfAborted(signal)
    const transactionId = newTransactionId()
    const credentials = auth.attributes()
    const software = tuning.software
      ? [attr.software(tuning.software)]
      : credentials.length === 0
        ? [attr.software(UNAUTHENTICATED_SOFTWARE)]
        : []
    const message = createMessage({
      method,
      cls: StunClass.Request,
      transactionId,
      attributes: [...build(transactionId), ...software, ...credentials],
    })
    const key = auth.key
    const sentAt = performance.now()
    const res = await conn.transact(message, {
      signal,
      timeoutMs: tuning.requestTimeoutMs ?? 5000,
      encode: auth.encodeOptions(),
      ...(tuning.rtoMs !== undefined ? { rtoMs: tuning.rtoMs } : {}),
    })
    onRoundTrip?.(performance.now() - sentAt)
    if (res.cls === StunClass.SuccessResponse) {
      if (key && !verifyIntegrity(res, key)) {
        throw new TurnError('TURN_BAD_RESPONSE', 'response integrity check failed')
      }
      return res
    }
    let status = 0
    let reason = ''
    try {
      const e = readAttributes(res).errorCode
      status = e?.code ?? 0
      reason = e?.reason ?? ''
    } catch {
      // malformed ERROR-CODE: treated as an unknown error below
    }
    if (status === 401 && unauthorized++ === 0 && auth.learn(res)) continue
    if (status === 401 && !key && auth.learn(res)) continue
    if (status === 438 && stale++ < 2 && auth.learn(res)) continue
    throw new TurnError(
      turnErrorCodeFor(status),
      `${methodName(method)} failed: ${status} ${reason}`.trim(),
      { errorCode: status },
    )
  }
}

/** `Allocate`, `Connect`… for messages. */
export function methodName(method: number): string {
  for (const [name, value] of Object.entries(StunMethod)) if (value === method) return name
  return `method 0x${method.toString(16)}`
}
