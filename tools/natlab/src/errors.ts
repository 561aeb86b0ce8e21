import { P2pdError } from '@p2pd/interface'

/**
 * Codes of {@link NatlabError}:
 * - `NATLAB_NOT_ROOT`: the lab needs root (network namespaces, nftables, raw sockets).
 * - `NATLAB_MISSING_TOOL`: `ip`, `nft`, `ethtool`, `python3`, a server binary… is not installed.
 * - `NATLAB_COMMAND`: a command the lab ran failed (its stderr is in the message).
 * - `NATLAB_LAB_FAULT`: the lab does not behave as configured (self-check mismatch). Never a
 *   traversal failure: the run stops.
 * - `NATLAB_NO_LAB`: no running lab matches (state file missing or owner dead).
 * - `NATLAB_USAGE`: bad profile name, option or argument.
 * - `NATLAB_RUNNER`: a strategy runner broke its protocol (bad JSON, no result in time).
 */
export type NatlabErrorCode =
  | 'NATLAB_NOT_ROOT'
  | 'NATLAB_MISSING_TOOL'
  | 'NATLAB_COMMAND'
  | 'NATLAB_LAB_FAULT'
  | 'NATLAB_NO_LAB'
  | 'NATLAB_USAGE'
  | 'NATLAB_RUNNER'

/** Every error the lab throws on purpose. */
export class NatlabError extends P2pdError {
  declare readonly code: NatlabErrorCode
  constructor(code: NatlabErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
