/** Stream packet sizes tried, largest first, up to the link's `maxPacketSize`. */
const CANDIDATES = [1468, 1448, 1400, 1300]

/**
 * Finds a larger segment size than the safe starting one: fewer datagrams per byte means less
 * CPU at both ends and fewer slots taken in a relay's socket buffer (coturn's hold ~50
 * datagrams whatever their size). One PROBE per candidate size, largest first; the first
 * one acknowledged is the new packet size. Lost (too big for some hop, or just lost): the next
 * smaller one. A single try per size on purpose — a router that drops a too-big datagram
 * tells the sender's kernel, which then fragments a retry, and an acked fragmented probe would
 * make every segment two datagrams.
 */
export class MtuProbe {
  readonly #sizes: number[]
  #next = 0
  #sentAt: number | undefined
  #best: number

  /** `current`: the packet size in use; `max`: the largest the link allows (none: no probes). */
  constructor(current: number, max: number | undefined) {
    this.#best = current
    this.#sizes = max === undefined ? [] : CANDIDATES.filter((s) => s <= max && s > current)
    if (max !== undefined && max > current && !this.#sizes.includes(max)) {
      this.#sizes.unshift(max)
      this.#sizes.sort((a, b) => b - a)
    }
  }

  /** True while probes are still to be sent or answered. */
  get active(): boolean {
    return this.#next < this.#sizes.length || this.#sentAt !== undefined
  }

  /**
   * The size of the probe to send at `now`, if one is due: the first once the path has a
   * round trip, each next one after `waitMs` without an answer to the previous.
   */
  due(now: number, waitMs: number): number | undefined {
    if (this.#sentAt !== undefined) {
      if (now - this.#sentAt < waitMs) return undefined
      this.#sentAt = undefined
    }
    const size = this.#sizes[this.#next]
    if (size === undefined) return undefined
    this.#next++
    this.#sentAt = now
    return size
  }

  /**
   * A PROBE_ACK for `size`: the new packet size when it beats the one in use (answers to
   * sizes never probed, or smaller, change nothing). Probing ends: the sizes go down.
   */
  onAck(size: number): number | undefined {
    if (!this.#sizes.includes(size) || size <= this.#best) return undefined
    this.#best = size
    this.#next = this.#sizes.length
    this.#sentAt = undefined
    return size
  }
}
