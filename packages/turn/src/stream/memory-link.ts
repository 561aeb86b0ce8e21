import type { DatagramLink } from './link.js'

/** Impairments of {@link createMemoryLinkPair}, applied independently in each direction. */
export interface MemoryLinkOptions {
  /** Probability that a datagram is dropped (0–1). */
  readonly loss?: number
  /** Probability that a datagram is delivered twice. */
  readonly duplicate?: number
  /** Probability that a datagram is held back by `reorderDelayMs` (so later ones overtake it). */
  readonly reorder?: number
  /** One-way delay (ms, default 0: next macrotask). */
  readonly delayMs?: number
  /** Extra delay of reordered datagrams (default 5 ms). */
  readonly reorderDelayMs?: number
  /** The links' stated `maxPacketSize` (default none: the stream does not probe). */
  readonly maxPacketSize?: number
  /** Datagrams longer than this are dropped, as by a hop with a smaller MTU (default none). */
  readonly mtu?: number
  /** PRNG seed, for reproducible runs (default random). */
  readonly seed?: number
}

/** Counters of one direction of a memory link. */
export interface MemoryLinkStats {
  sent: number
  dropped: number
  /** Dropped for their size (see `mtu`). */
  tooBig: number
  duplicated: number
  reordered: number
}

/** mulberry32: small, fast, good enough to pick which packets to harm. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Two connected in-process datagram links that lose, duplicate and reorder on demand: how the
 * reliable stream is tested without a network. Datagrams are copied (as a socket would).
 */
export function createMemoryLinkPair(
  opts: MemoryLinkOptions = {},
): [DatagramLink & { stats: MemoryLinkStats }, DatagramLink & { stats: MemoryLinkStats }] {
  const random = prng(opts.seed ?? Math.floor(Math.random() * 2 ** 32))
  const handlers: [((p: Buffer) => void) | undefined, ((p: Buffer) => void) | undefined] = [
    undefined,
    undefined,
  ]
  let closed = false
  const timers = new Set<NodeJS.Timeout>()
  const make = (self: 0 | 1) => {
    const stats: MemoryLinkStats = { sent: 0, dropped: 0, tooBig: 0, duplicated: 0, reordered: 0 }
    const deliver = (packet: Buffer, delay: number) => {
      const t = setTimeout(() => {
        timers.delete(t)
        if (!closed) handlers[self === 0 ? 1 : 0]?.(packet)
      }, delay)
      timers.add(t)
    }
    return {
      stats,
      ...(opts.maxPacketSize !== undefined ? { maxPacketSize: opts.maxPacketSize } : {}),
      send(packet: Buffer) {
        if (closed) return
        stats.sent++
        if (opts.mtu !== undefined && packet.length > opts.mtu) {
          stats.tooBig++
          return
        }
        if (random() < (opts.loss ?? 0)) {
          stats.dropped++
          return
        }
        const copies = random() < (opts.duplicate ?? 0) ? 2 : 1
        if (copies === 2) stats.duplicated++
        for (let i = 0; i < copies; i++) {
          let delay = opts.delayMs ?? 0
          if (random() < (opts.reorder ?? 0)) {
            stats.reordered++
            delay += opts.reorderDelayMs ?? 5
          }
          deliver(Buffer.from(packet), delay)
        }
      },
      onReceive(handler: (p: Buffer) => void) {
        handlers[self] = handler
      },
      close() {
        handlers[self] = undefined
        if (!handlers[0] && !handlers[1]) {
          closed = true
          for (const t of timers) clearTimeout(t)
          timers.clear()
        }
      },
    }
  }
  return [make(0), make(1)]
}
