import { seqDiff } from './seq.js'

/**
 * Which DATA timestamp the next ACK echoes: the first one since our last ACK that was at or
 * below the cumulative point that ACK announced, else the first one at all. An ACK covers a
 * batch of packets, and echoing the newest of them (a retransmission sent after a timeout,
 * queued behind originals that a stalled event loop had not read yet) made the sender judge
 * spurious timeouts genuine and cut its window to 4; echoing a packet that arrived out of
 * order after a loss would do the opposite. RTT samples then include the batching delay,
 * which is the delay the sender's timer must tolerate anyway.
 */
export class EchoChoice {
  #ts: number | undefined
  #inOrder = false

  /** DATA `seq` sent at `ts` arrived; `ackedUpTo`: the cumulative ack of our last ACK. */
  note(seq: number, ts: number, ackedUpTo: number): void {
    const inOrder = seqDiff(seq, ackedUpTo) <= 0
    if (this.#ts === undefined || (inOrder && !this.#inOrder)) {
      this.#ts = ts
      this.#inOrder = inOrder
    }
  }

  /** The timestamp to echo in the ACK going out now (if any); starts the next batch. */
  take(): number | undefined {
    const ts = this.#ts
    this.#ts = undefined
    this.#inOrder = false
    return ts
  }
}
