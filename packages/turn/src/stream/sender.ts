import { ByteQueue } from './byte-queue.js'
import { CongestionWindow } from './congestion-window.js'
import type { SlowStartPhase } from './hystart.js'
import { Pacer } from './pacer.js'
import type { AckPacket, SackRange } from './packet.js'
import { RttEstimator } from './rtt.js'
import type { Segment, SenderOptions, TimeoutUndo, Transmission } from './segment.js'
import { seqAdd, seqDiff, seqLess } from './seq.js'

export type { SenderOptions, Transmission } from './segment.js'

/** Segments re-sent after this many later segments were selectively acked (TCP's dupthresh). */
const DUP_THRESHOLD = 3

/**
 * The sending half of the reliable stream: segments the byte queue, keeps the segments in
 * flight, and decides what to (re)transmit.
 *
 * - **Flow control**: never more unacked segments than the peer's advertised window.
 * - **Congestion control** ({@link CongestionWindow}): losses below its loss-rate threshold are
 *   only resent; at most one cut per window of data (NewReno-style recovery); after a timeout
 *   the window is restored if the timeout proves spurious: an ack that echoes a timestamp older
 *   than the timeout and covers the retransmitted segment was caused by the original
 *   transmission (Eifel detection, RFC 3522).
 * - **Loss detection**: SACK-based fast retransmit (3 later segments acked) and a retransmission
 *   timer (RFC 6298 RTO, doubled per retransmission of that segment). A timeout resends only
 *   the oldest segment; once an ack shows the timeout was genuine, the other segments that
 *   were overdue with it are resent as the window allows (the RFC 6675 "pipe").
 */
export class Sender {
  readonly rtt: RttEstimator
  #segmentSize: number
  readonly #initialCwnd: number
  readonly #maxTransmits: number
  /** Bytes written but not yet cut into segments. */
  readonly #queue = new ByteQueue()
  /** In sequence order (Map keeps insertion order). */
  readonly #inflight = new Map<number, Segment>()
  #inflightBytes = 0
  #sackedCount = 0
  #lostCount = 0
  #nextSeq = 0
  #una = 0
  readonly #cc: CongestionWindow
  #peerWindow: number
  /** Loss reactions are suppressed until `una` passes this sequence number. */
  #recoverUntil: number | undefined
  #finQueued = false
  #finSeq: number | undefined
  #finAcked = false
  #highestSacked: number | undefined
  /** The SACK ranges of the last ACK, all applied (sacked stays sacked until cum-acked). */
  #lastRanges: readonly SackRange[] = []
  #undo: TimeoutUndo | undefined
  /**
   * When an ack last acknowledged something new. A segment times out only once its own timer
   * ran out *and* acks made no progress for an RTO — TCP restarts its one timer on each such
   * ack. Per-segment timers alone fired on every segment of a window whose RTT grew while a
   * loaded relay queued it, though acks kept coming; a segment lost while others are acked is
   * found by the selective acks instead.
   */
  #progressAt = Number.NEGATIVE_INFINITY
  readonly #pacer: Pacer
  /** The last poll held new segments back for pacing: the caller must poll again soon. */
  #paced = false
  /** Statistics. */
  retransmits = 0
  timeouts = 0
  spuriousTimeouts = 0

  constructor(opts: SenderOptions) {
    this.#segmentSize = opts.segmentSize
    this.#initialCwnd = opts.initialCwnd ?? 16
    this.#maxTransmits = opts.maxTransmits ?? 20
    this.#pacer = new Pacer(opts.pacingBurstMs ?? 5, this.#initialCwnd)
    this.#cc = new CongestionWindow(this.#initialCwnd, opts.maxCwnd ?? 8192)
    this.#peerWindow = this.#initialCwnd
    this.rtt = new RttEstimator(opts)
  }

  /** Payload bytes of the segments cut from now on (the path took larger datagrams). */
  set segmentSize(n: number) {
    this.#segmentSize = n
  }

  /** Bytes written and not yet acknowledged (queued + in flight). */
  get bufferedBytes(): number {
    return this.#queue.bytes + this.#inflightBytes
  }

  get inflightCount(): number {
    return this.#inflight.size
  }

  get cwnd(): number {
    return this.#cc.cwnd
  }

  /** Slow-start threshold (packets; infinite until the first loss or HyStart exit). */
  get ssthresh(): number {
    return this.#cc.ssthresh
  }

  /** The path's recent delivery rate (segments/ms) times its minimum RTT (ms), in segments. */
  get bdp(): number {
    return this.#cc.delivery.bdp
  }

  /** Loss events that cut the window (at most one per window of data). */
  get lossEvents(): number {
    return this.#cc.lossEvents
  }

  /** Segments found lost that did not cut the window (sparse, or its window already cut). */
  get sparseLosses(): number {
    return this.#cc.sparseLosses
  }

  /** Where the initial slow start stands. */
  get slowStart(): SlowStartPhase {
    return this.#cc.slowStart
  }

  get peerWindow(): number {
    return this.#peerWindow
  }

  /** True when our FIN was sent and acknowledged. */
  get finAcked(): boolean {
    return this.#finAcked
  }

  /** True when everything written (FIN included, if queued) is acknowledged. */
  get idle(): boolean {
    return this.#queue.bytes === 0 && this.#inflight.size === 0
  }

  /** True when the last {@link poll} held new segments back to pace them: poll again soon. */
  get paced(): boolean {
    return this.#paced
  }

  /** True when there is data we could send but the peer's window is closed. */
  get blockedByPeer(): boolean {
    return this.#peerWindow === 0 && this.#inflight.size === 0 && this.#hasNew()
  }

  /** Queues bytes for transmission (the buffer is not copied: callers must not reuse it). */
  enqueue(chunk: Buffer): void {
    if (this.#finQueued) return
    if (chunk.length === 0) return
    this.#queue.push(chunk)
  }

  /** Queues the FIN after all data. */
  enqueueFin(): void {
    this.#finQueued = true
  }

  /**
   * Applies an ACK received at `now` (ms, `performance.now()` clock). Returns the number of
   * newly acknowledged bytes. Throws nothing: an ACK for data never sent is clamped away.
   */
  onAck(ack: AckPacket, now: number): number {
    const nowTs = timestamp(now)
    if (ack.echoTs !== undefined) {
      const rtt = seqDiff(nowTs, ack.echoTs) >>> 0
      this.rtt.sample(rtt)
      this.#cc.onRtt(rtt, now, this.#una, this.#nextSeq)
    }
    // Acks beyond what we sent are lies or corruption: ignore their cumulative part.
    const cumAck = seqDiff(ack.cumAck, this.#nextSeq) > 0 ? this.#una : ack.cumAck
    this.#checkTimeoutVerdict(ack, cumAck)
    let ackedBytes = 0
    let ackedSegments = 0
    for (const s of this.#inflight.values()) {
      if (!seqLess(s.seq, cumAck)) break
      this.#remove(s)
      if (!s.sacked) {
        this.#cc.delivery.onDelivered(s, now)
        ackedSegments++
      }
      ackedBytes += s.data.length
      if (s.fin) this.#finAcked = true
    }
    if (seqDiff(cumAck, this.#una) > 0) this.#una = cumAck
    // An ACK repeats the ranges of the one before (a hole keeps them for a round trip or more):
    // only what lies outside those is new. Walking all of them per ACK was O(window) each.
    const prev = this.#lastRanges
    const applied: SackRange[] = []
    let p = 0
    for (const r of ack.ranges) {
      if (seqDiff(r.end, this.#nextSeq) > 0) continue
      applied.push(r)
      for (let q = r.start; seqLess(q, r.end); q = seqAdd(q, 1)) {
        while (p < prev.length && !seqLess(q, (prev[p] as SackRange).end)) p++
        const old = prev[p]
        if (old && !seqLess(q, old.start)) {
          q = seqAdd(old.end, -1)
          continue
        }
        const s = this.#inflight.get(q)
        if (s && !s.sacked) {
          s.sacked = true
          this.#sackedCount++
          this.#cc.delivery.onDelivered(s, now)
          if (s.lost) {
            s.lost = false
            this.#lostCount--
          }
          ackedSegments++
        }
      }
      if (this.#highestSacked === undefined || seqLess(this.#highestSacked, r.end)) {
        this.#highestSacked = r.end
      }
    }
    this.#lastRanges = applied
    if (ackedSegments > 0) this.#progressAt = now
    this.#peerWindow = ack.window
    if (this.#recoverUntil !== undefined && !seqLess(this.#una, this.#recoverUntil)) {
      this.#recoverUntil = undefined
    }
    // Window growth, outside recovery only.
    if (ackedSegments > 0 && this.#recoverUntil === undefined) {
      this.#cc.grow(ackedSegments, now, this.rtt.srtt ?? this.rtt.rto)
    }
    return ackedBytes
  }

  /**
   * After a timeout, the first ack decides: caused by a packet sent before the timeout and
   * covering the resent segment, the timeout was spurious (Eifel) and the window comes back;
   * caused by a packet sent after it, the timeout was genuine and the segments it held back
   * are marked lost.
   */
  #checkTimeoutVerdict(ack: AckPacket, cumAck: number): void {
    const undo = this.#undo
    if (!undo || ack.echoTs === undefined) return
    if (seqDiff(ack.echoTs, undo.atTs) >= 0) {
      this.#undo = undefined
      for (const s of this.#inflight.values()) {
        if (!s.held) continue
        s.held = false
        if (!s.sacked && !s.lost && seqLess(cumAck, seqAdd(s.seq, 1))) {
          s.lost = true
          this.#lostCount++
        }
      }
      return
    }
    if (!seqLess(undo.seq, cumAck)) return
    this.#undo = undefined
    this.spuriousTimeouts++
    for (const s of this.#inflight.values()) s.held = false
    this.#cc.restore(undo.window)
    this.#recoverUntil = undefined
  }

  /**
   * Collects what to transmit now: lost segments first (SACK-detected or timed out), then new
   * segments while the congestion and peer windows allow. Returns `dead` when a segment ran
   * out of transmissions.
   */
  poll(now: number): { out: Transmission[]; dead: boolean } {
    const out: Transmission[] = []
    const srtt = this.rtt.srtt ?? this.rtt.rto
    let sackLosses = 0
    let timedOut: Segment | undefined
    // No timer can fire before acks stalled for an RTO: then only segments below the highest
    // selective ack can be lost, and the scan stops there instead of walking the window.
    const timerDue = now >= this.#progressAt + this.rtt.rto
    for (const s of this.#inflight.values()) {
      const belowSacked =
        this.#highestSacked !== undefined && seqDiff(this.#highestSacked, s.seq) > DUP_THRESHOLD
      if (!belowSacked && !timerDue) break
      if (s.sacked || s.lost) continue
      const sackLost = belowSacked && now - s.sentAt > srtt
      if (sackLost) {
        sackLosses++
        if (!this.#resend(s, now, out)) return { out, dead: true }
      } else if (now >= s.resendAt && now >= this.#progressAt + this.rtt.rto) {
        timedOut ??= s
      }
    }
    if (timedOut) {
      this.timeouts++
      const fresh = this.#recoverUntil === undefined
      if (!this.#undo) {
        this.#undo = {
          window: this.#cc.snapshot(),
          at: now,
          atTs: timestamp(now),
          seq: timedOut.seq,
        }
      }
      this.rtt.backoff()
      this.#cc.onTimeout(fresh)
      this.#recoverUntil = this.#nextSeq
      if (!this.#resend(timedOut, now, out)) return { out, dead: true }
      // Other overdue segments wait for the verdict of the first ack instead of all firing.
      for (const s of this.#inflight.values()) {
        if (s !== timedOut && !s.sacked && !s.lost && s.resendAt <= now) {
          s.held = true
          s.resendAt = now + this.rtt.rto
        }
      }
    } else if (sackLosses > 0) {
      // Sparse losses are only resent; congestion cuts the window once per window of data.
      if (this.#cc.onLoss(sackLosses, this.#recoverUntil === undefined)) {
        this.#recoverUntil = this.#nextSeq
      }
    }
    const limit = Math.min(Math.floor(this.#cc.cwnd), this.#peerWindow)
    if (this.#lostCount > 0) {
      for (const s of this.#inflight.values()) {
        if (this.#pipe() >= Math.max(1, limit)) break
        if (!s.lost) continue
        s.lost = false
        this.#lostCount--
        if (!this.#resend(s, now, out)) return { out, dead: true }
      }
    }
    this.#pacer.refill(now, this.#cc.cwnd, this.rtt.srtt, this.#cc.inSlowStart)
    while (this.#pipe() < limit && this.#hasNew() && this.#pacer.tokens >= 1) {
      out.push(this.#cut(now))
      this.#pacer.take()
    }
    this.#paced = this.#pipe() < limit && this.#hasNew()
    return { out, dead: false }
  }

  /** Segments believed to be in the network (RFC 6675's pipe, without its refinements). */
  #pipe(): number {
    return this.#inflight.size - this.#sackedCount - this.#lostCount
  }

  /** Retransmits `s`; false when it has used up its transmissions (a dead link). */
  #resend(s: Segment, now: number, out: Transmission[]): boolean {
    if (s.transmits >= this.#maxTransmits) return false
    s.transmits++
    this.#cc.delivery.stamp(s, now)
    s.resendAt = now + Math.min(this.rtt.rto * 2 ** (s.transmits - 1), 60_000)
    this.retransmits++
    out.push(s)
    return true
  }

  #hasNew(): boolean {
    return this.#queue.bytes > 0 || (this.#finQueued && this.#finSeq === undefined)
  }

  #cut(now: number): Segment {
    let data: Buffer
    let fin = false
    if (this.#queue.bytes === 0) {
      data = Buffer.alloc(0)
      fin = true
      this.#finSeq = this.#nextSeq
    } else {
      data = this.#queue.take(Math.min(this.#segmentSize, this.#queue.bytes))
    }
    const seg: Segment = {
      seq: this.#nextSeq,
      data,
      fin,
      sentAt: now,
      delivered: 0,
      deliveredAt: now,
      firstSentAt: now,
      resendAt: now + this.rtt.rto,
      transmits: 1,
      sacked: false,
      held: false,
      lost: false,
    }
    this.#cc.delivery.stamp(seg, now)
    this.#nextSeq = seqAdd(this.#nextSeq, 1)
    this.#inflight.set(seg.seq, seg)
    this.#inflightBytes += data.length
    return seg
  }

  #remove(s: Segment): void {
    this.#inflight.delete(s.seq)
    this.#inflightBytes -= s.data.length
    if (s.sacked) this.#sackedCount--
    if (s.lost) this.#lostCount--
  }
}

/** The stream's 32-bit millisecond timestamp of a `performance.now()` instant. */
export function timestamp(nowMs: number): number {
  return Math.floor(nowMs) >>> 0
}
