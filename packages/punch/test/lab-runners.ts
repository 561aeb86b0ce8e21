import type { StrategyRunner } from '../../../tools/natlab/src/index.js'
import { tsRunner } from '../../../tools/natlab/src/index.js'
import { bundled } from '../../../tools/natlab/test/bundle.js'

const RUNNER = new URL('./lab-runner.ts', import.meta.url).pathname

/**
 * The natlab runner of `@p2pd/punch` (a real node, MQTT signaling, coturn STUN), its program
 * bundled once per test file (plain Node starts it in a fraction of tsx's CPU time).
 */
export const punchRunner = (): Promise<StrategyRunner> =>
  bundled(tsRunner('punch', RUNNER, { timeoutMs: 25_000 }), RUNNER)
