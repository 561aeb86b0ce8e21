/**
 * @packageDocumentation
 * The `p2pd` command line, and the pieces it is made of for reuse: the embedded loopback
 * infrastructure ({@link startInfra}) and a verified two-way transfer ({@link exchange}).
 *
 * @example
 * ```sh
 * npx p2pd demo --mb 8          # every strategy between two local nodes, verified
 * npx p2pd addr '0-[1,0,…]-0-03ab…-c88e…'
 * ```
 */

export { type BrokerLimits, type EmbeddedBroker, startBroker } from './broker.js'
export { demoCommand } from './commands/demo.js'
export { natCommand } from './commands/nat.js'
export { type Infra, startInfra } from './infra.js'
export { exchange, type TransferResult } from './transfer.js'
