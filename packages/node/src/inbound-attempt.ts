import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { abortReason, Deadline, isP2pdError, withDeadline } from '@p2pd/interface'
import { NodeError } from './errors.js'
import type { InboundCounters, InboundStage } from './inbound-stats.js'

export interface InboundAttemptInit {
  readonly stream: Duplex
  /** Deadline of the whole inbound path, from now. */
  readonly totalTimeoutMs: number
  /** Aborts the attempt without counting it (the node or listener is closing). */
  readonly parent: AbortSignal
  /** Where outcomes are counted; none for a responder connection we dialled ourselves. */
  readonly counters?: InboundCounters
  /** Called once when the attempt ends, however it ends (frees its admission slot). */
  readonly onSettled?: () => void
}

/**
 * One inbound connection on its way to becoming a nominated pipe. It owns the total deadline
 * (a {@link Deadline}: own timer, strong references, so a full GC cannot lose it), runs each
 * stage under a deadline of its own, and ends exactly once: `complete()`, `fail()` or
 * `evict()`. Ending any way but `complete()` closes the socket, so no stage can outlive its
 * deadline even if the code running it ignores its signal.
 */
export class InboundAttempt {
  readonly stream: Duplex
  /** When the connection was admitted, in `performance.now()` ms. */
  readonly openedAt = performance.now()
  #stage: InboundStage = 'preamble'
  #settled = false
  readonly #total: Deadline
  readonly #counters?: InboundCounters
  readonly #onSettled?: () => void
  readonly #onClose = () => this.fail(new NodeError('NODE_INBOUND_CLOSED', 'peer closed'))

  constructor(init: InboundAttemptInit) {
    this.stream = init.stream
    this.#counters = init.counters
    this.#onSettled = init.onSettled
    this.#total = new Deadline(init.totalTimeoutMs, init.parent, 'inbound connection')
    this.stream.once('close', this.#onClose)
    const signal = this.#total.signal
    if (signal.aborted) this.fail(abortReason(signal))
    else signal.addEventListener('abort', () => this.fail(abortReason(signal)), { once: true })
  }

  get stage(): InboundStage {
    return this.#stage
  }

  get settled(): boolean {
    return this.#settled
  }

  /** Aborts when the total deadline fires, the attempt ends, or the parent aborts. */
  get signal(): AbortSignal {
    return this.#total.signal
  }

  /** Runs one stage under its own deadline (`ms`) and the total one. */
  run<T>(stage: InboundStage, ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.#stage = stage
    return withDeadline(ms, this.#total.signal, work, `inbound ${stage}`)
  }

  /** Settles with `work` or rejects when the total deadline fires (for steps with no stage). */
  race<T>(work: Promise<T>): Promise<T> {
    return this.#total.race(work)
  }

  /** The connection made it: count it and stop watching (the socket stays open). */
  complete(): void {
    if (!this.#end()) return
    if (this.#counters) this.#counters.completed++
  }

  /**
   * The connection failed or timed out: count it by cause (a timeout under the stage it
   * interrupted; an abort, i.e. the node stopping, not at all) and close the socket, unless
   * `close: false` (the caller closes it gracefully itself).
   */
  fail(err: unknown, options: { close?: boolean } = {}): void {
    if (!this.#end()) return
    const timedOut = isP2pdError(err, 'TIMEOUT')
    if (this.#counters && !isP2pdError(err, 'ABORTED')) {
      if (timedOut) this.#counters.timedOut[this.#stage]++
      else this.#counters.failed++
    }
    if (options.close !== false) closeNow(this.stream, timedOut)
  }

  /** Closed to make room for a connection from a less busy source. */
  evict(): void {
    if (!this.#end()) return
    if (this.#counters) this.#counters.evicted++
    closeNow(this.stream, true)
  }

  #end(): boolean {
    if (this.#settled) return false
    this.#settled = true
    this.stream.off('close', this.#onClose)
    this.#total.abort(new NodeError('NODE_INBOUND_SETTLED', 'inbound attempt ended'))
    this.#onSettled?.()
    return true
  }
}

/**
 * Closes a socket at once. With `reset`, a TCP RST: no FIN handshake and no TIME_WAIT on our
 * side, the cheapest way to drop a connection we do not want.
 */
export function closeNow(stream: Duplex, reset = false): void {
  if (reset && stream instanceof Socket && !stream.destroyed) {
    try {
      stream.resetAndDestroy()
      return
    } catch {}
  }
  stream.destroy()
}
