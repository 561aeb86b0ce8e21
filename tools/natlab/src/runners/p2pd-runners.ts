import { srcFile } from '../node-in-ns.js'
import { registerRunner, type StrategyRunner, tsRunner } from './index.js'

/** Runner names of the p2pd node runner (`runners/p2pd-node.ts`), one per strategy set. */
export const P2PD_NODE_RUNNERS = [
  'node-direct',
  'node-reverse',
  'node-punch',
  'node-turn',
  'node-auto',
] as const

export type P2pdNodeRunnerName = (typeof P2PD_NODE_RUNNERS)[number]

/**
 * A real `@p2pd/node` per side (see `runners/p2pd-node.ts`): `node-direct`, `node-reverse`,
 * `node-punch`, `node-turn` use that one strategy; `node-auto` the whole pipeline
 * (direct → reverse → punch → turn). They need the p2pd lab servers ({@link p2pdServers})
 * next to the defaults (mosquitto for signaling).
 */
export function p2pdNodeRunner(name: P2pdNodeRunnerName): StrategyRunner {
  return tsRunner(name, srcFile('runners/p2pd-node.ts'), { timeoutMs: 40_000 })
}

/** Registers the five node runners so `--strategies node-auto,…` finds them. */
export function registerP2pdRunners(): void {
  for (const n of P2PD_NODE_RUNNERS) registerRunner(p2pdNodeRunner(n))
}

registerP2pdRunners()
