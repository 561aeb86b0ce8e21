import {
  type ComplianceOptions,
  signalingCompliance as registerSuite,
  type SignalingPair,
} from '@p2pd/signal-compliance'
import { afterEach, describe, it } from 'vitest'

export type { SignalingPair } from '@p2pd/signal-compliance'

/** The public suite (`@p2pd/signal-compliance`) bound to vitest, for this repository's tests. */
export function signalingCompliance(
  name: string,
  makePair: () => Promise<SignalingPair>,
  options?: ComplianceOptions,
): void {
  registerSuite(name, makePair, { describe, it, afterEach }, options)
}
