import { P2pdError } from '@p2pd/interface'

/** Stable codes of {@link NatError}. */
export type NatErrorCode =
  /** No STUN server was given, or a server spec could not be parsed. */
  | 'NAT_BAD_INPUT'
  /** No STUN server resolves to an address of the wanted family. */
  | 'NAT_NO_SERVER'

/** The error `@p2pd/nat` throws on purpose. Timeouts and aborts are `TimeoutError`/`AbortError`. */
export class NatError extends P2pdError {
  declare readonly code: NatErrorCode

  constructor(code: NatErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
