import type { AckPacket } from './packet.js'
import { RttEstimator, type RttOptions } from './rtt.js'
import { seqAdd, seqDiff, seqLess } from './seq.js'

/** Parameters of {@link Sender}. */
export interface SenderOptions extends RttOptions {
  /** Payload bytes per DATA packet. */
  readonly segmentSize: number
  /** Congestion window at the start and after an idle period (packets, default 16). */
  readonly initialCwnd?: number
  /** Upper bound of the congestion window (packets, default 512). */
  readonly maxCwnd?: number
  /** A segment transmitted this often without an ack means the link is dead (default 20). */
  readonly maxTransmits?: number
}

/** One segment in flight. */
interface Segment {
  readonly seq: number
  readonly data: Buffer
  readonly fin: boolean
  /** When it was last (re)transmitted (ms). */
  sentAt: number
  /** When to retransmit it if still unacked (ms). */
  resendAt: number
  transmits: number
  sacked: boolean
}

/** What the stream must put on the wire. */
export interface Transmission {
  readonly seq: number
  readonly data: Buffer
  readonly fin: boolean
}

/** Segments re-sent after this many later segments were selectively acked (TCP's dupthresh). */
const DUP_THRESHOLD = 3
/** Multiplicative decrease on a loss event (CUBIC's β: gentler than Reno's ½ on lossy paths). */
const BETA = 0.7
const MIN_CWND = 4

/**
 * The sending half of the reliable stream: segments the byte queue, keeps the segments in
 * flight, and decides what to (re)transmit.
 *
 * - **Flow control**: never more unacked segments than the peer's advertised window.
 * - **Congestion control**: slow start, then additive increase; on a loss event the window is
 *   multiplied by 0.7, at most once per window of data (NewReno-style recovery); on a timeout
 *   it falls to the minimum.
 * - **Loss detection**: SACK-based fast retransmit (3 later segments acked) and a per-segment
 *   retransmission timer (RFC 6298 RTO, doubled per retransmission of that segment).
 */
export class Sender {
  readonly rtt: RttEstimator
  readonly #segmentSize: number
  readonly #initialCwnd: number
  readonly #maxCwnd: number
  readonly #maxTransmits: number
  /** Bytes written but not yet cut into segments. */
  #queue: Buffer[] = []
  #queueBytes = 0
  /** In sequence order (Map keeps insertion order). */
  readonly #inflight = new Map<number, Segment>()
  #inflightBytes = 0
  #sackedCount = 0
  #nextSeq = 0
  #una = 0
  #cwnd: number
  #ssthresh = Number.POSITIVE_INFINITY
  #peerWindow: number
  /** Loss reactions are suppressed until `una` passes this sequence number. */
  #recoverUntil: number | undefined
  #finQueued = false
  #finSeq: number | undefined
  #finAcked = false
  #highestSacked: number | undefined
  /** Statistics. */
  retransmits = 0
  timeouts = 0

  constructor(opts: SenderOptions) {
    this.#segmentSize = opts.segmentSize
    this.#initialCwnd = opts.initialCwnd ?? 16
    this.#maxCwnd = opts.maxCwnd ?? 512
    this.#maxTransmits = opts.maxTransmits ?? 20
    this.#cwnd = this.#initialCwnd
    this.#peerWindow = this.#initialCwnd
    this.rtt = new RttEstimator(opts)
  }

  /** Bytes written and not yet acknowledged (queued + in flight). */
  get bufferedBytes(): number {
    return this.#queueBytes + this.#inflightBytes
  }

  get inflightCount(): number {
    return this.#inflight.size
  }

  get cwnd(): number {
    return this.#cwnd
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
    return this.#queueBytes === 0 && this.#inflight.size === 0
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
    this.#queueBytes += chunk.length
  }

  /** Queues the FIN after all data. */
  enqueueFin(): void {
    this.#finQueued = true
  }

  /** Earliest retransmission deadline of the segments in flight (ms), if any. */
  nextResendAt(): number | undefined {
    let min: number | undefined
    for (const s of this.#inflight.values()) {
      if (!s.sacked && (min === undefined || s.resendAt < min)) min = s.resendAt
    }
    return min
  }

  /**
   * Applies an ACK. Returns the number of newly acknowledged bytes. Throws nothing: an ACK
   * for data never sent is clamped away.
   */
  onAck(ack: AckPacket, nowTs: number): number {
    if (ack.echoTs !== undefined) this.rtt.sample(seqDiff(nowTs, ack.echoTs) >>> 0)
    // Acks beyond what we sent are lies or corruption: ignore their cumulative part.
    const cumAck = seqDiff(ack.cumAck, this.#nextSeq) > 0 ? this.#una : ack.cumAck
    let ackedBytes = 0
    let ackedSegments = 0
    for (const s of this.#inflight.values()) {
      if (!seqLess(s.seq, cumAck)) break
      this.#remove(s)
      ackedBytes += s.data.length
      ackedSegments++
      if (s.fin) this.#finAcked = true
    }
    if (seqDiff(cumAck, this.#una) > 0) this.#una = cumAck
    for (const r of ack.ranges) {
      if (seqDiff(r.end, this.#nextSeq) > 0) continue
      for (let q = r.start; seqLess(q, r.end); q = seqAdd(q, 1)) {
        const s = this.#inflight.get(q)
        if (s && !s.sacked) {
          s.sacked = true
          this.#sackedCount++
          ackedSegments++
        }
      }
      if (this.#highestSacked === undefined || seqLess(this.#highestSacked, r.end)) {
        this.#highestSacked = r.end
      }
    }
    this.#peerWindow = ack.window
    if (this.#recoverUntil !== undefined && !seqLess(this.#una, this.#recoverUntil)) {
      this.#recoverUntil = undefined
    }
    // Window growth, outside recovery only.
    if (ackedSegments > 0 && this.#recoverUntil === undefined) {
      if (this.#cwnd < this.#ssthresh) this.#cwnd += ackedSegments
      else this.#cwnd += ackedSegments / this.#cwnd
      if (this.#cwnd > this.#maxCwnd) this.#cwnd = this.#maxCwnd
    }
    return ackedBytes
  }

  /**
   * Collects what to transmit now: lost segments first (SACK-detected or timed out), then new
   * segments while the congestion and peer windows allow. Returns `dead` when a segment ran
   * out of transmissions.
   */
  poll(now: number): { out: Transmission[]; dead: boolean } {
    const out: Transmission[] = []
    const rto = this.rtt.rto
    const srtt = this.rtt.srtt ?? rto
    let lossEvent = false
    let timeout = false
    for (const s of this.#inflight.values()) {
      if (s.sacked) continue
      const sackLost =
        this.#highestSacked !== undefined &&
        seqDiff(this.#highestSacked, s.seq) > DUP_THRESHOLD &&
        now - s.sentAt > srtt
      const timedOut = now >= s.resendAt
      if (!sackLost && !timedOut) continue
      if (s.transmits >= this.#maxTransmits) return { out, dead: true }
      if (timedOut && !sackLost) timeout = true
      else lossEvent = true
      s.transmits++
      s.sentAt = now
      s.resendAt = now + Math.min(rto * 2 ** (s.transmits - 1), 60_000)
      this.retransmits++
      out.push(s)
    }
    if (timeout) {
      this.timeouts++
      this.rtt.backoff()
      this.#ssthresh = Math.max(MIN_CWND, this.#cwnd * BETA)
      this.#cwnd = MIN_CWND
      this.#recoverUntil = this.#nextSeq
    } else if (lossEvent && this.#recoverUntil === undefined) {
      this.#ssthresh = Math.max(MIN_CWND, this.#cwnd * BETA)
      this.#cwnd = this.#ssthresh
      this.#recoverUntil = this.#nextSeq
    }
    const limit = Math.min(Math.floor(this.#cwnd), this.#peerWindow)
    while (this.#inflight.size - this.#sackedCount < limit && this.#hasNew()) {
      const s = this.#cut(now)
      out.push(s)
    }
    return { out, dead: false }
  }

  #hasNew(): boolean {
    return this.#queueBytes > 0 || (this.#finQueued && this.#finSeq === undefined)
  }

  #cut(now: number): Segment {
    let data: Buffer
    let fin = false
    if (this.#queueBytes === 0) {
      data = Buffer.alloc(0)
      fin = true
      this.#finSeq = this.#nextSeq
    } else {
      data = this.#take(Math.min(this.#segmentSize, this.#queueBytes))
    }
    const seg: Segment = {
      seq: this.#nextSeq,
      data,
      fin,
      sentAt: now,
      resendAt: now + this.rtt.rto,
      transmits: 1,
      sacked: false,
    }
    this.#nextSeq = seqAdd(this.#nextSeq, 1)
    this.#inflight.set(seg.seq, seg)
    this.#inflightBytes += data.length
    return seg
  }

  #take(n: number): Buffer {
    const first = this.#queue[0] as Buffer
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.#queue.shift()
      else this.#queue[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let filled = 0
      while (filled < n) {
        const c = this.#queue[0] as Buffer
        const part = Math.min(c.length, n - filled)
        c.copy(out, filled, 0, part)
        filled += part
        if (part === c.length) this.#queue.shift()
        else this.#queue[0] = c.subarray(part)
      }
    }
    this.#queueBytes -= n
    return out
  }

  #remove(s: Segment): void {
    this.#inflight.delete(s.seq)
    this.#inflightBytes -= s.data.length
    if (s.sacked) this.#sackedCount--
  }
}
