import { P2pdError } from '@p2pd/interface'

/** Errors of the node and its built-in strategies. `code` starts with `NODE_`. */
export class NodeError extends P2pdError {}
