import { P2pdError } from '@p2pd/interface'

/** An error the daemon throws on purpose (a bad frame, a bad token file, …). */
export class DaemonError extends P2pdError {}

/**
 * A request the daemon refuses: the HTTP `status` and the JSON body
 * `{ "error": { "code", "message" } }` it answers with.
 */
export class HttpError extends DaemonError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message)
  }
}
