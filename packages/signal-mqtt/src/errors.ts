import { P2pdError } from '@p2pd/interface'

/** Stable codes of {@link SignalingError}. */
export type SignalingErrorCode =
  /** `publish()` before `start()` resolved. */
  | 'SIGNALING_NOT_STARTED'
  /** The backend was closed. */
  | 'SIGNALING_CLOSED'
  /** Bad options (empty broker list, offset out of range, bad URL, bad numbers). */
  | 'SIGNALING_BAD_OPTIONS'
  /** The recipient's node ID is not a public key (legacy ids cannot be sealed to). */
  | 'SIGNALING_BAD_TARGET'
  /** An outgoing message fails its schema (unknown type, bad body). */
  | 'SIGNALING_BAD_MESSAGE'
  /** An outgoing message is larger than the envelope limit. */
  | 'SIGNALING_TOO_LARGE'
  /** No broker is connected that could carry the message. */
  | 'SIGNALING_NO_BROKER'
  /** Every broker tried failed to acknowledge the message. */
  | 'SIGNALING_PUBLISH_FAILED'

/** Signaling over MQTT failed; `code` says how. Received messages never throw: they are counted. */
export class SignalingError extends P2pdError {
  declare readonly code: SignalingErrorCode

  constructor(code: SignalingErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** Stable codes of {@link SignalMessageError}. */
export type SignalMessageErrorCode =
  /** The type tag is malformed, or not a known type nor `app/…`. */
  | 'SIGNAL_MESSAGE_TYPE'
  /** The body does not match the schema of its type. */
  | 'SIGNAL_MESSAGE_BODY'
  /** An `app/…` body is larger than its cap. */
  | 'SIGNAL_MESSAGE_TOO_LARGE'

/** A signaling message body failed validation (thrown by the `parse…` functions). */
export class SignalMessageError extends P2pdError {
  declare readonly code: SignalMessageErrorCode

  constructor(code: SignalMessageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
