import { P2pdError } from '@p2pd/interface'

/** Stable codes of {@link StunError}. */
export type StunErrorCode =
  /** Fewer bytes than a header, an attribute header or a declared length needs. */
  | 'STUN_TRUNCATED'
  /** Message length not a multiple of 4, or not matching the datagram / frame size. */
  | 'STUN_BAD_LENGTH'
  /** The first two bits of the message are not zero: not a STUN message. */
  | 'STUN_NOT_STUN'
  /** The magic cookie is missing (and legacy RFC 3489 messages were not allowed). */
  | 'STUN_BAD_COOKIE'
  /** An attribute overruns the message, is malformed, or is in a forbidden position. */
  | 'STUN_BAD_ATTRIBUTE'
  /** More attributes than the decoder accepts. */
  | 'STUN_TOO_MANY_ATTRIBUTES'
  /** A message or frame larger than allowed. */
  | 'STUN_TOO_LARGE'
  /** FINGERPRINT present but wrong. */
  | 'STUN_BAD_FINGERPRINT'
  /** MESSAGE-INTEGRITY(-SHA256) missing or wrong. */
  | 'STUN_BAD_INTEGRITY'
  /** Invalid input to an encoder (port out of range, bad IP text, oversized value…). */
  | 'STUN_BAD_INPUT'
  /** A TCP stream carried something that is neither STUN nor (when allowed) ChannelData. */
  | 'STUN_BAD_FRAME'
  /** The server answered with an error response (see `errorCode`). */
  | 'STUN_ERROR_RESPONSE'
  /** No (acceptable) response before the deadline or after all retransmissions. */
  | 'STUN_NO_RESPONSE'
  /** A response arrived but lacked a needed attribute (e.g. no mapped address). */
  | 'STUN_BAD_RESPONSE'
  /** Socket-level failure: bind, connect, send, connection closed. */
  | 'STUN_SOCKET'
  /** A host name could not be resolved (or not in time). */
  | 'STUN_RESOLVE'
  /** The client or server is closed. */
  | 'STUN_CLOSED'
  /** Every server of a pool failed. */
  | 'STUN_ALL_FAILED'

/**
 * The only error `@p2pd/stun` throws on purpose. Decoders throw nothing else, whatever the
 * input. Timeouts and aborts surface as `TimeoutError` / `AbortError` from `@p2pd/interface`.
 */
export class StunError extends P2pdError {
  declare readonly code: StunErrorCode
  /** For `STUN_ERROR_RESPONSE`: the STUN error code (e.g. 401, 420, 438). */
  readonly errorCode?: number

  constructor(
    code: StunErrorCode,
    message: string,
    options?: { cause?: unknown; errorCode?: number },
  ) {
    super(code, message, options)
    if (options?.errorCode !== undefined) this.errorCode = options.errorCode
  }
}
