import { fileURLToPath } from 'node:url'
import { type StrategyRunner, tsRunner } from '../../../tools/natlab/src/index.js'

/** The natlab runner of `@p2pd/punch` (a real node, MQTT signaling, coturn STUN). */
export const punchRunner: StrategyRunner = tsRunner(
  'punch',
  fileURLToPath(new URL('./lab-runner.ts', import.meta.url)),
  { timeoutMs: 25_000 },
)
