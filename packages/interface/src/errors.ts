/**
 * Base class of every error a p2pd package throws on purpose. `code` is a stable,
 * machine-readable string (`'ADDRESS_PORT_RANGE'`, `'TIMEOUT'`, …); `message` is for humans.
 */
export class P2pdError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends P2pdError {
  constructor(message = 'operation timed out', options?: { cause?: unknown }) {
    super('TIMEOUT', message, options)
  }
}

/** An operation was cancelled through its `AbortSignal`. */
export class AbortError extends P2pdError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('ABORTED', message, options)
  }
}

/** True when `err` is a {@link P2pdError} (optionally with the given `code`). */
export function isP2pdError(err: unknown, code?: string): err is P2pdError {
  return err instanceof P2pdError && (code === undefined || err.code === code)
}
