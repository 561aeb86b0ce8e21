import type { Duplex } from 'node:stream'

/** Names of the built-in strategies; any other string names a user strategy. */
export type StrategyName = 'direct' | 'reverse' | 'punch' | 'turn' | (string & {})

/** A transport endpoint. */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** Which way the bytes of a pipe travel. */
export interface PipePath {
  readonly local: Endpoint
  readonly remote: Endpoint
  /** True when the bytes go through a relay (TURN), not directly to the peer. */
  readonly relayed: boolean
}

/**
 * An authenticated, encrypted byte stream to one peer. It is a Node `Duplex`, so `pipeline()`,
 * `for await` and backpressure work as usual.
 */
export interface Pipe extends Duplex {
  /** The peer's node ID, proven by the handshake. */
  readonly remotePeer: string
  /** The strategy that produced the underlying connection. */
  readonly strategy: StrategyName
  readonly path: PipePath
  /** Ends the stream gracefully and resolves once the socket is closed. */
  close(): Promise<void>
}
