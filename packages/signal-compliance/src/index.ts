/**
 * @packageDocumentation
 * The behaviour every p2pd `Signaling` backend must have (the contract of `@p2pd/interface`),
 * as a test suite: write your backend, give the suite a factory for two connected endpoints,
 * and run it under your test runner. `MemorySignalingHub` and `@p2pd/signal-mqtt` pass it.
 *
 * The suite takes your runner's `describe`, `it` and `afterEach` as arguments and checks
 * with its own assertions, so it needs no particular framework: vitest, jest, mocha and
 * `node:test` all work.
 *
 * @example
 * ```ts
 * // test/my-signaling.test.ts (vitest)
 * import { MemorySignalingHub } from '@p2pd/interface'
 * import { signalingCompliance } from '@p2pd/signal-compliance'
 * import { afterEach, describe, it } from 'vitest'
 *
 * signalingCompliance(
 *   'MemorySignalingHub',
 *   async () => {
 *     const hub = new MemorySignalingHub()
 *     const a = hub.connect('node-a')
 *     const b = hub.connect('node-b')
 *     await Promise.all([a.start(), b.start()])
 *     const dispose = async () => void (await Promise.all([a.close(), b.close()]))
 *     return { a, b, aId: 'node-a', bId: 'node-b', dispose }
 *   },
 *   { describe, it, afterEach },
 * )
 * ```
 */

export { SignalingComplianceError } from './check.js'
export {
  type ComplianceOptions,
  type SignalingPair,
  signalingCompliance,
  type TestFunctions,
} from './suite.js'
