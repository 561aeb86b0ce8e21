import { isP2pdError } from '@p2pd/interface'

/** A typed error's message and code; anything else (a bug) with its stack. */
export function describeError(err: unknown): string {
  if (isP2pdError(err)) return `${err.message} (${err.code})`
  return (err as Error)?.stack ?? String(err)
}
