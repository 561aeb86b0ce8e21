import type { StreamError } from '../errors.js'

/**
 * What the reliable stream runs over: an unreliable, unordered datagram path to one peer
 * (a TURN channel, a UDP socket, or the in-memory lossy link of the tests). Datagrams may be
 * lost, duplicated or reordered; the stream copes.
 */
export interface DatagramLink {
  /** Sends one datagram, best effort (errors are losses, never exceptions). */
  send(packet: Buffer): void
  /**
   * The largest stream packet this link carries in one datagram of a 1,500-byte MTU path after
   * its own headers (e.g. 1,468 for a TURN channel over IPv4). Given, the stream probes for
   * segments up to it; absent, it keeps its starting size.
   */
  readonly maxPacketSize?: number
  /** Installs the receiver of inbound datagrams (one at a time; replaces the previous one). */
  onReceive(handler: (packet: Buffer) => void): void
  /** Releases the path (idempotent). The stream calls it once it is done with the link. */
  close(): void | Promise<void>
  /**
   * Names the path's death in the link's own terms: when the stream gives up on the peer
   * (`STREAM_IDLE_TIMEOUT`, `STREAM_DEAD_LINK`) it fails with this error instead (e.g. a
   * TURN link answers `TURN_RELAY_LOST`, caused by the stream's error). Optional.
   */
  lostError?(cause: StreamError): Error
}
