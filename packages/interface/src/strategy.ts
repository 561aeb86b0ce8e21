import type { Duplex } from 'node:stream'
import type { Clock } from './clock.js'
import type { PeerAddress } from './peer-address.js'
import type { Endpoint, StrategyName } from './pipe.js'
import type { InboundSignal, Signaling } from './signaling.js'

/**
 * A raw, not yet authenticated connection that a strategy produced. The pipeline runs the
 * secure channel over `stream` before a user ever sees it.
 */
export interface RawConnection {
  readonly stream: Duplex
  readonly local: Endpoint
  readonly remote: Endpoint
  readonly relayed: boolean
  /** True when this side initiated (a hint; the secure channel breaks ties itself). */
  readonly initiator: boolean
}

/** Everything a strategy may use; the node builds it for each connect or accept. */
export interface StrategyContext {
  /** Our own current address. */
  readonly local: PeerAddress
  /** The same, encoded as peer-address text (what requests carry in `body.address`). */
  readonly localText: string
  /** The peer we want (connect) or that asked us (accept). */
  readonly remote: PeerAddress
  readonly signaling: Signaling
  readonly clock: Clock
  /**
   * Waits for the peer to open a TCP connection to our listener that presents `token`
   * (16 random bytes, hex) in its preamble — how reverse connects find their socket. The
   * node owns the listener; see `@p2pd/node` for the preamble format.
   */
  expectConnection(token: string, signal: AbortSignal): Promise<RawConnection>
  /** Debug log sink; strategies never write to stdout themselves. */
  readonly log: (message: string) => void
}

/**
 * One way of getting a connection to a peer. The node composes strategies in preference
 * order; a custom pipeline is just a custom list. Signaling message types of a strategy are
 * namespaced `<name>/<kind>` (e.g. `punch/offer`).
 */
export interface Strategy {
  readonly name: StrategyName
  /** `true` if worth trying between these two peers, or a short reason why not. */
  canTry(local: PeerAddress, remote: PeerAddress): true | string
  /**
   * Produces a raw connection to `ctx.remote`, or rejects.
   *
   * The lifecycle of `signal`, exactly:
   * - It aborts when the stage's deadline passes, when the caller gives up, or when another
   *   strategy wins first. Then reject soon and release what you opened (closing sockets on
   *   abort is right). The node stops waiting at once either way, and closes a connection you
   *   deliver after that.
   * - Once your connection wins (it was authenticated first), the node detaches it from
   *   `signal` before it cancels the other stages: `signal` never aborts after a win, so a
   *   strategy that closes its socket on abort keeps the connection it won.
   * - The returned stream then belongs to the pipe; do not touch it again.
   */
  connect(ctx: StrategyContext, signal: AbortSignal): Promise<RawConnection>
  /**
   * Message types that start a responder flow (routed by the node to {@link accept}). Their
   * body must carry `address`: the sender's peer-address text. The node decodes it, drops the
   * message unless its node ID is the verified sender, and passes it as `ctx.remote`.
   */
  readonly accepts?: readonly string[]
  /**
   * Responder side: handles an inbound message of a type listed in {@link accepts} and
   * produces the raw connection it leads to (`undefined` when there is none).
   */
  accept?(
    ctx: StrategyContext,
    inbound: InboundSignal,
    signal: AbortSignal,
  ): Promise<RawConnection | undefined>
}
