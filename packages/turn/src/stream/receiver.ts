import { MAX_SACK_RANGES, type SackRange } from './packet.js'
import { seqAdd, seqDiff, seqLess } from './seq.js'

/** Parameters of {@link Receiver}. */
export interface ReceiverOptions {
  /** Payload bytes per DATA packet (to turn bytes into a window in packets). */
  readonly segmentSize: number
  /** Bytes held for the application (delivered, unread) plus out of order (default 4 MiB). */
  readonly bufferBytes: number
}

/** What one arriving DATA packet produced. */
export interface Arrival {
  /** Payloads now deliverable in order (maybe none). */
  readonly deliver: Buffer[]
  /** The FIN is now delivered in order: the peer's byte stream ended. */
  readonly fin: boolean
  /** The packet was a copy of one already received (or outside the window). */
  readonly duplicate: boolean
}

/**
 * The receiving half: reorders, de-duplicates and bounds what the peer may make us hold.
 * A segment is accepted only within the receive window measured from the next expected
 * sequence number, and only while the bytes held (unread + out of order) stay under
 * `bufferBytes` — so a peer that ignores our advertised window cannot grow our memory.
 */
export class Receiver {
  /** The largest payload seen: the peer's segments may grow (path-MTU probing). */
  #segmentSize: number
  readonly #bufferBytes: number
  #capacity: number
  /** Next sequence number to deliver: everything before it arrived (the cumulative ack). */
  #expected = 0
  readonly #ooo = new Map<number, { data: Buffer; fin: boolean }>()
  #oooBytes = 0
  #highest: number | undefined
  #finDelivered = false
  duplicates = 0

  constructor(opts: ReceiverOptions) {
    this.#segmentSize = opts.segmentSize
    this.#bufferBytes = opts.bufferBytes
    this.#capacity = Math.max(4, Math.floor(opts.bufferBytes / opts.segmentSize))
  }

  get expected(): number {
    return this.#expected
  }

  get finDelivered(): boolean {
    return this.#finDelivered
  }

  get outOfOrderBytes(): number {
    return this.#oooBytes
  }

  /** Free window (packets) given `unread` bytes still waiting for the application. */
  window(unread: number): number {
    const free = this.#bufferBytes - unread - this.#oooBytes
    return Math.max(0, Math.min(this.#capacity, Math.floor(free / this.#segmentSize)))
  }

  /** Handles one DATA segment; `unread` = bytes delivered but not read by the application. */
  onData(seq: number, data: Buffer, fin: boolean, unread: number): Arrival {
    const offset = seqDiff(seq, this.#expected)
    if (data.length > this.#segmentSize) {
      this.#segmentSize = data.length
      this.#capacity = Math.max(4, Math.floor(this.#bufferBytes / data.length))
    }
    if (offset < 0 || this.#finDelivered || this.#ooo.has(seq)) {
      this.duplicates++
      return { deliver: [], fin: false, duplicate: true }
    }
    if (offset >= this.#capacity || unread + this.#oooBytes + data.length > this.#bufferBytes) {
      // Outside the window: drop it; the sender retransmits once we advertise room.
      return { deliver: [], fin: false, duplicate: true }
    }
    if (offset > 0) {
      // Copy: the datagram's buffer may be big and shared (and short-lived views are cheap
      // only while in order).
      this.#ooo.set(seq, { data: Buffer.from(data), fin })
      this.#oooBytes += data.length
      if (this.#highest === undefined || seqLess(this.#highest, seq)) this.#highest = seq
      return { deliver: [], fin: false, duplicate: false }
    }
    const deliver: Buffer[] = []
    let sawFin = fin
    if (data.length > 0) deliver.push(data)
    this.#expected = seqAdd(this.#expected, 1)
    while (!sawFin) {
      const next = this.#ooo.get(this.#expected)
      if (!next) break
      this.#ooo.delete(this.#expected)
      this.#oooBytes -= next.data.length
      if (next.data.length > 0) deliver.push(next.data)
      sawFin = next.fin
      this.#expected = seqAdd(this.#expected, 1)
    }
    // Nothing out of order left above the new cumulative point: forget the high mark.
    if (this.#highest !== undefined && seqLess(this.#highest, this.#expected)) {
      this.#highest = undefined
    }
    if (sawFin) {
      this.#finDelivered = true
      this.#ooo.clear()
      this.#oooBytes = 0
      this.#highest = undefined
    }
    return { deliver, fin: sawFin, duplicate: false }
  }

  /** Selective-ack ranges above the cumulative ack, lowest first, at most 32. */
  sackRanges(): SackRange[] {
    const ranges: SackRange[] = []
    if (this.#highest === undefined || this.#ooo.size === 0) return ranges
    let start: number | undefined
    const end = seqAdd(this.#highest, 1)
    for (let q = seqAdd(this.#expected, 1); seqLess(q, end); q = seqAdd(q, 1)) {
      const has = this.#ooo.has(q)
      if (has && start === undefined) start = q
      if (!has && start !== undefined) {
        ranges.push({ start, end: q })
        start = undefined
        if (ranges.length === MAX_SACK_RANGES) return ranges
      }
    }
    if (start !== undefined) ranges.push({ start, end })
    return ranges
  }
}
