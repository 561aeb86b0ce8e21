import type { Accepted, InboundPipeline, Screened } from './inbound.js'

/** Limits of the {@link InboundQueue}. */
export interface InboundQueueOptions {
  /** Envelopes from peers (valid pair authenticator) waiting to be opened, at most. */
  readonly maxPeerPending: number
  /** Envelopes from strangers waiting to be opened, at most. */
  readonly maxStrangerPending: number
  /** Time spent opening envelopes per event-loop turn before yielding, in ms. */
  readonly sliceMs: number
}

/** Defaults: 1,024 + 64 pending, 8 ms of opening per turn. */
export const INBOUND_QUEUE_DEFAULTS: InboundQueueOptions = {
  maxPeerPending: 1_024,
  maxStrangerPending: 64,
  sliceMs: 8,
}

/**
 * Sits between the cheap and the expensive half of the {@link InboundPipeline}: every payload
 * is screened as it arrives, and what is worth opening waits here, peers' envelopes ahead of
 * strangers'. Opening runs in slices of `sliceMs` per event-loop turn, so a burst never blocks
 * timers and sockets; each lane holds a bounded number of envelopes and drops the excess
 * (`overloaded`).
 */
export class InboundQueue {
  readonly #peer: Screened[] = []
  readonly #stranger: Screened[] = []
  /** Digests waiting, so the redundant copy of a queued envelope is not opened twice. */
  readonly #pending = new Set<string>()
  #scheduled: NodeJS.Immediate | undefined
  #closed = false

  constructor(
    readonly pipeline: InboundPipeline,
    readonly onAccepted: (accepted: Accepted) => void,
    readonly options: InboundQueueOptions = INBOUND_QUEUE_DEFAULTS,
  ) {}

  /** Envelopes waiting to be opened. */
  get pending(): number {
    return this.#peer.length + this.#stranger.length
  }

  push(raw: Uint8Array, auth?: string): void {
    if (this.#closed) return
    const screened = this.pipeline.screen(raw, auth)
    if (!screened) return
    if (this.#pending.has(screened.digest)) {
      this.pipeline.drop('replayed', 'copy already waiting')
      return
    }
    const lane = screened.peer === undefined ? this.#stranger : this.#peer
    const max =
      screened.peer === undefined ? this.options.maxStrangerPending : this.options.maxPeerPending
    if (lane.length >= max) {
      this.pipeline.drop('overloaded', `${lane.length} envelopes waiting`)
      return
    }
    lane.push(screened)
    this.#pending.add(screened.digest)
    this.#schedule()
  }

  /** Drops everything waiting; nothing more is opened. */
  close(): void {
    this.#closed = true
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    this.#peer.length = 0
    this.#stranger.length = 0
    this.#pending.clear()
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined
      this.#drain()
    })
  }

  #drain(): void {
    const started = performance.now()
    while (!this.#closed) {
      const next = this.#peer.shift() ?? this.#stranger.shift()
      if (!next) return
      this.#pending.delete(next.digest)
      const accepted = this.pipeline.open(next)
      if (accepted) this.onAccepted(accepted)
      if (performance.now() - started >= this.options.sliceMs) break
    }
    if (this.pending > 0) this.#schedule()
  }
}
