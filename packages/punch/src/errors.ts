import { P2pdError } from '@p2pd/interface'

/** Stable codes of {@link PunchError}. */
export type PunchErrorCode =
  /** A signaling message body failed validation (it is dropped, never trusted). */
  | 'PUNCH_BAD_MESSAGE'
  /** Neither side's NAT allows a punch (e.g. symmetric-random on both sides). */
  | 'PUNCH_NOT_PUNCHABLE'
  /** No fresh mapping could be observed (no STUN server answered). */
  | 'PUNCH_NO_MAPPING'
  /** The peer gave up and said why (`punch/abort`). */
  | 'PUNCH_PEER_ABORTED'
  /** The punch window closed without a connected socket. */
  | 'PUNCH_FAILED'

/** The only error `@p2pd/punch` throws on purpose. */
export class PunchError extends P2pdError {
  declare readonly code: PunchErrorCode

  constructor(code: PunchErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
