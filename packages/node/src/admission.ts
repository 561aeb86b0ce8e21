import { isIPv6, type Socket } from 'node:net'
import { InboundAttempt } from './inbound-attempt.js'
import { fdBudget, type ResolvedInboundLimits } from './inbound-limits.js'
import type { InboundCounters, RefusalReason } from './inbound-stats.js'

/**
 * Who may hold a pending (not yet nominated) inbound connection. Strangers can open these for
 * free, so their number is capped per source and in total, and the total never exceeds the
 * file-descriptor budget (the open-file limit minus a reserve for the node's own dials).
 *
 * At the total cap, a connection from a source with fewer pending connections than the
 * busiest source takes the slot of that source's oldest connection: one host flooding cannot
 * lock a new peer out, it only recycles its own slots. Refused connections are reset at once.
 */
export class Admission {
  readonly #bySource = new Map<string, Set<InboundAttempt>>()
  readonly #limits: ResolvedInboundLimits
  readonly #counters: InboundCounters
  readonly #cap: number
  readonly #capReason: RefusalReason
  #pending = 0

  constructor(limits: ResolvedInboundLimits, counters: InboundCounters) {
    this.#limits = limits
    this.#counters = counters
    const budget = fdBudget(limits)
    this.#cap = Math.min(limits.maxPending, budget)
    this.#capReason = budget < limits.maxPending ? 'fdBudget' : 'total'
  }

  /** Pending inbound connections now. */
  get pending(): number {
    return this.#pending
  }

  /**
   * Admits `socket` as a pending attempt under the total deadline, or resets it and counts
   * the refusal (returns `undefined`).
   */
  admit(socket: Socket, parent: AbortSignal): InboundAttempt | undefined {
    const address = socket.remoteAddress
    if (address === undefined || parent.aborted) {
      socket.destroy() // already gone, or we are closing down
      return undefined
    }
    const source = sourceKey(address)
    const mine = this.#bySource.get(source)
    const held = mine?.size ?? 0
    if (held >= this.#limits.maxPendingPerSource) return this.#refuse(socket, 'perSource')
    if (this.#pending >= this.#cap) {
      const busiest = this.#busiest()
      if (!busiest || busiest.size <= held) return this.#refuse(socket, this.#capReason)
      busiest.values().next().value?.evict() // the oldest: a Set keeps insertion order
    }
    const set = mine ?? new Set<InboundAttempt>()
    if (!mine) this.#bySource.set(source, set)
    const attempt = new InboundAttempt({
      stream: socket,
      totalTimeoutMs: this.#limits.totalTimeoutMs,
      parent,
      counters: this.#counters,
      onSettled: () => {
        set.delete(attempt)
        if (set.size === 0) this.#bySource.delete(source)
        this.#pending--
      },
    })
    set.add(attempt)
    this.#pending++
    this.#counters.accepted++
    return attempt
  }

  #refuse(socket: Socket, reason: RefusalReason): undefined {
    this.#counters.refused[reason]++
    try {
      socket.resetAndDestroy()
    } catch {
      socket.destroy()
    }
    return undefined
  }

  #busiest(): Set<InboundAttempt> | undefined {
    let best: Set<InboundAttempt> | undefined
    for (const set of this.#bySource.values()) if (!best || set.size > best.size) best = set
    return best
  }
}

/**
 * The source a connection counts against: the IPv4 address (IPv4-mapped IPv6 unwrapped), or
 * for IPv6 the /64 prefix, since one host is routinely given a whole /64.
 */
export function sourceKey(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1]
  if (v4) return v4
  if (!isIPv6(address)) return address
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]?.split('::') ?? ['']
  const left = head ? head.split(':') : []
  const right = tail === undefined ? [] : tail ? tail.split(':') : []
  const fill = Array(Math.max(0, 8 - left.length - right.length)).fill('0')
  return [...left, ...fill, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
}
