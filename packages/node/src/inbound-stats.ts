/** The stages of an inbound connection before it becomes a pipe in `incoming`. */
export type InboundStage = 'preamble' | 'handshake' | 'nomination'

/** Why a new inbound connection was closed at once. */
export type RefusalReason = 'perSource' | 'total' | 'fdBudget'

/**
 * What the listener did with inbound connections since the node was created
 * (`node.stats.inbound`). Every admitted connection ends in exactly one of `completed`,
 * `timedOut`, `evicted` or `failed` (or is still `pending`, or was cut by `stop()`).
 */
export interface InboundStats {
  /** TCP connections admitted (not refused). */
  readonly accepted: number
  /**
   * New connections closed at once: their source already had `maxPendingPerSource` pending,
   * or `maxPending` (`total`) or the fd budget (`fdBudget`) was reached and no busier source
   * could give up a slot. `fdBudget` also counts sockets `server.maxConnections` dropped.
   */
  readonly refused: Readonly<Record<RefusalReason, number>>
  /** Pending connections closed to make room for a connection from a less busy source. */
  readonly evicted: number
  /**
   * Closed by a deadline, by the stage they were in: the stage's own deadline or the total
   * one, whichever fired first.
   */
  readonly timedOut: Readonly<Record<InboundStage, number>>
  /** Closed for anything else: junk preamble, failed handshake, allow-list, peer hung up. */
  readonly failed: number
  /**
   * Finished: a `direct` connection nominated and handed to `incoming`, or a `reverse` dial
   * handed to the `connect()` waiting for its token.
   */
  readonly completed: number
  /** Admitted connections not finished yet (a gauge, not a counter). */
  readonly pending: number
}

/** The mutable counters behind {@link InboundStats}. */
export class InboundCounters {
  accepted = 0
  readonly refused: Record<RefusalReason, number> = { perSource: 0, total: 0, fdBudget: 0 }
  evicted = 0
  readonly timedOut: Record<InboundStage, number> = { preamble: 0, handshake: 0, nomination: 0 }
  failed = 0
  completed = 0

  snapshot(pending: number): InboundStats {
    return {
      accepted: this.accepted,
      refused: { ...this.refused },
      evicted: this.evicted,
      timedOut: { ...this.timedOut },
      failed: this.failed,
      completed: this.completed,
      pending,
    }
  }
}
