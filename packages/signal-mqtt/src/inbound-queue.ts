import type { Accepted, InboundPipeline, Lane, Screened } from './inbound.js'

/** Limits of the {@link InboundQueue}. */
export interface InboundQueueOptions {
  /** Envelopes from peers (valid pair authenticator) waiting to be opened, at most. */
  readonly maxPeerPending: number
  /** Envelopes from strangers waiting to be opened, at most. */
  readonly maxStrangerPending: number
  /** Envelopes from strangers with a valid proof-of-work stamp waiting, at most. */
  readonly maxStampedPending?: number
  /** Time spent opening envelopes per event-loop turn before yielding, in ms. */
  readonly sliceMs: number
}

/** Defaults: 1,024 + 64 + 64 pending, 8 ms of opening per turn. */
export const INBOUND_QUEUE_DEFAULTS: InboundQueueOptions = {
  maxPeerPending: 1_024,
  maxStrangerPending: 64,
  maxStampedPending: 64,
  sliceMs: 8,
}

/**
 * Sits between the cheap and the expensive half of the {@link InboundPipeline}: every payload
 * is screened as it arrives, and what is worth opening waits here: peers' envelopes first, then
 * strangers' with a valid proof-of-work stamp, then the other strangers'. Opening runs in slices of `sliceMs` per event-loop turn, so a burst never blocks
 * timers and sockets; each lane holds a bounded number of envelopes and drops the excess
 * (`overloaded`).
 */
export class InboundQueue {
  readonly #lanes: Record<Lane, Screened[]> = { peer: [], stamped: [], stranger: [] }
  /** Digests waiting and their lanes, so the copy of a queued envelope is not opened twice. */
  readonly #pending = new Map<string, Lane>()
  #scheduled: NodeJS.Immediate | undefined
  #closed = false

  constructor(
    readonly pipeline: InboundPipeline,
    readonly onAccepted: (accepted: Accepted) => void,
    readonly options: InboundQueueOptions = INBOUND_QUEUE_DEFAULTS,
  ) {}

  /** Envelopes waiting to be opened. */
  get pending(): number {
    const l = this.#lanes
    return l.peer.length + l.stamped.length + l.stranger.length
  }

  push(raw: Uint8Array, auth?: string, pow?: string): void {
    if (this.#closed) return
    const waiting = (digest: string) => this.#pending.get(digest)
    const screened = this.pipeline.screen(raw, auth, { pow, waiting })
    if (!screened) return
    const lane = this.#lanes[screened.lane]
    const o = this.options
    const max =
      screened.lane === 'peer'
        ? o.maxPeerPending
        : screened.lane === 'stamped'
          ? (o.maxStampedPending ?? o.maxStrangerPending)
          : o.maxStrangerPending
    if (lane.length >= max) {
      this.pipeline.drop('overloaded', `${lane.length} envelopes waiting`)
      return
    }
    if (screened.promotes) {
      // Its unstamped copy leaves the strangers' lane: one envelope, opened once.
      const strangers = this.#lanes.stranger
      const at = strangers.findIndex((x) => x.digest === screened.digest)
      if (at >= 0) strangers.splice(at, 1)
    }
    lane.push(screened)
    this.#pending.set(screened.digest, screened.lane)
    this.#schedule()
  }

  /** Drops everything waiting; nothing more is opened. */
  close(): void {
    this.#closed = true
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    for (const lane of Object.values(this.#lanes)) lane.length = 0
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
      const l = this.#lanes
      const next = l.peer.shift() ?? l.stamped.shift() ?? l.stranger.shift()
      if (!next) return
      this.#pending.delete(next.digest)
      const accepted = this.pipeline.open(next)
      if (accepted) this.onAccepted(accepted)
      if (performance.now() - started >= this.options.sliceMs) break
    }
    if (this.pending > 0) this.#schedule()
  }
}
