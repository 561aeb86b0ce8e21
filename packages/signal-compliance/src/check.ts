import { inspect, isDeepStrictEqual } from 'node:util'
import { P2pdError } from '@p2pd/interface'

/** A `Signaling` backend broke one of the rules of the compliance suite. */
export class SignalingComplianceError extends P2pdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SIGNAL_COMPLIANCE_FAILED', message, options)
  }
}

// Plain checks instead of a test framework's `expect`, so the suite runs under any runner.
export function check(condition: boolean, what: string): void {
  if (!condition) throw new SignalingComplianceError(what)
}

export function checkEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new SignalingComplianceError(
      `${what}: expected ${inspect(expected, { depth: 4 })}, got ${inspect(actual, { depth: 4 })}`,
    )
  }
}

export async function checkRejects(work: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await work()
  } catch {
    return
  }
  throw new SignalingComplianceError(`${what}: it resolved`)
}
