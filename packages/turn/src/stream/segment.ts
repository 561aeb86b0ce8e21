import type { WindowSnapshot } from './congestion-window.js'
import type { DeliveryStamp } from './delivery.js'
import type { RttOptions } from './rtt.js'

/** Parameters of {@link Sender}. */
export interface SenderOptions extends RttOptions {
  /** Payload bytes per DATA packet. */
  readonly segmentSize: number
  /** Congestion window at the start and after an idle period (packets, default 16). */
  readonly initialCwnd?: number
  /** Upper bound of the congestion window (packets, default 8,192). */
  readonly maxCwnd?: number
  /** A segment transmitted this often without an ack means the link is dead (default 20). */
  readonly maxTransmits?: number
  /**
   * Largest burst of new segments, as this many ms at the pacing rate (default 5). Through
   * coturn in the lab, 20 ms bursts overflowed its UDP sockets (tens to hundreds of drops per
   * 16 MiB), 5 ms bursts far less; the stream polls again within 2 ms while paced.
   */
  readonly pacingBurstMs?: number
}

/** One segment in flight (stamped by the delivery-rate estimator at each transmission). */
export interface Segment extends DeliveryStamp {
  readonly seq: number
  readonly data: Buffer
  readonly fin: boolean
  /** When to retransmit it if still unacked (ms). */
  resendAt: number
  transmits: number
  sacked: boolean
  /** Overdue when a timeout fired: lost if the timeout proves genuine. */
  held: boolean
  /** Known lost after a genuine timeout: waiting for window room to go out again. */
  lost: boolean
}

/** What the stream must put on the wire. */
export interface Transmission {
  readonly seq: number
  readonly data: Buffer
  readonly fin: boolean
}

/** The window before a retransmission timeout, kept until we know whether it was spurious. */
export interface TimeoutUndo {
  readonly window: WindowSnapshot
  /** When the timeout fired (ms), and as our u32 timestamp. */
  readonly at: number
  readonly atTs: number
  /** Lowest sequence number the timeout retransmitted. */
  readonly seq: number
}
