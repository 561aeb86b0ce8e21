import type { RttOptions } from './rtt.js'

/** Options of {@link ReliableStream}. */
export interface ReliableStreamOptions extends RttOptions {
  /** Conversation id both peers agreed on (32 bits); packets of other ids are ignored. */
  readonly conv: number
  /**
   * Payload bytes per packet at first (default 1,200: fits a 1,280-byte path MTU with TURN
   * headers). When the link states its `maxPacketSize`, larger sizes up to it are probed once
   * (one datagram each) and the largest that gets through is used from then on.
   */
  readonly segmentSize?: number
  /** Probe for larger segments when the link allows (default true). */
  readonly probeMtu?: boolean
  /** Unacknowledged bytes we accept from the writer before applying backpressure (6 MiB). */
  readonly sendBufferBytes?: number
  /** Bytes we hold for the reader, unread + out of order; sets the advertised window (6 MiB). */
  readonly receiveBufferBytes?: number
  /** Congestion window at the start (packets, default 16). */
  readonly initialCwnd?: number
  /** Largest congestion window (packets, default 8,192; the peer's window binds first). */
  readonly maxCwnd?: number
  /** Transmissions of one segment before the link is declared dead (default 20). */
  readonly maxTransmits?: number
  /** Send a keep-alive after this long without sending anything (default 5 s). */
  readonly keepAliveMs?: number
  /** Fail with `STREAM_IDLE_TIMEOUT` after this long without hearing the peer (default 30 s). */
  readonly idleTimeoutMs?: number
  /**
   * Until the peer is heard for the first time, the idle limit is this instead (default:
   * `idleTimeoutMs`): the far end may still be setting up its side of the path.
   */
  readonly openTimeoutMs?: number
  /** Retransmission timer granularity (default 10 ms). */
  readonly tickMs?: number
  /** After a clean close, keep answering the peer's retransmitted FIN this long (1 s). */
  readonly lingerMs?: number
  /**
   * `destroy()` without an error closes in the background, like a kernel socket: FIN after
   * the data already written, then the peer's FIN, for at most this long (default 5 s).
   */
  readonly closeTimeoutMs?: number
}

/** Live counters of a {@link ReliableStream}. */
export interface ReliableStreamStats {
  readonly packetsSent: number
  readonly packetsReceived: number
  readonly retransmits: number
  readonly timeouts: number
  /** Timeouts undone because the original transmission was acked (Eifel detection). */
  readonly spuriousTimeouts: number
  readonly duplicates: number
  readonly badPackets: number
  readonly srttMs: number | undefined
  readonly rtoMs: number
  readonly cwnd: number
  /** Payload bytes of the segments cut now (grows when a larger probe got through). */
  readonly segmentSize: number
  /** Slow-start threshold (packets; infinite until the first loss or slow-start exit). */
  readonly ssthresh: number
  /** Segments sent and not yet acknowledged. */
  readonly inflight: number
  /** Loss events that cut the window (at most one per window of data). */
  readonly lossEvents: number
  readonly slowStart: 'standard' | 'conservative' | 'done'
  /** Recent delivery rate times minimum RTT (packets): the floor of a loss reaction. */
  readonly bdp: number
}
