import { readFileSync } from 'node:fs'

/**
 * Limits on connections to the node's listener that have not yet proven who they are and been
 * nominated. Anyone on the internet can open these, so each one is bounded in time (per stage
 * and in total) and their number is bounded per source, in total, and by the process's
 * file-descriptor budget. Every field is optional; the defaults suit a public node.
 */
export interface InboundLimits {
  /** Deadline for the 22-byte preamble after the TCP accept (default 5 s). */
  readonly preambleTimeoutMs?: number
  /**
   * Deadline for the nomination byte after the secure handshake and the allow-list check
   * (default 10 s). The dialler nominates the pipe it keeps as soon as it has one.
   */
  readonly nominationTimeoutMs?: number
  /**
   * Deadline for the whole inbound path, accept → preamble → handshake → allow-list →
   * nomination (default 15 s). The handshake's own deadline is `handshakeTimeoutMs`.
   */
  readonly totalTimeoutMs?: number
  /** Pending (not yet nominated) inbound connections per source address (default 8). */
  readonly maxPendingPerSource?: number
  /** Pending inbound connections in total (default 256). */
  readonly maxPending?: number
  /**
   * The process's open-file limit (default: the soft `RLIMIT_NOFILE`, read from
   * `/proc/self/limits`; unlimited where that cannot be read).
   */
  readonly fdLimit?: number
  /**
   * File descriptors pending inbound connections never take, kept for the node's own dials
   * and pipes (default: a quarter of `fdLimit`, at least 64). Inbound sockets of any kind
   * (`server.maxConnections`) never take the last half of it.
   */
  readonly fdReserve?: number
}

/** {@link InboundLimits} with every default applied. */
export interface ResolvedInboundLimits {
  readonly preambleTimeoutMs: number
  readonly nominationTimeoutMs: number
  readonly totalTimeoutMs: number
  readonly maxPendingPerSource: number
  readonly maxPending: number
  readonly fdLimit: number
  readonly fdReserve: number
}

export const defaultInboundLimits = {
  preambleTimeoutMs: 5_000,
  nominationTimeoutMs: 10_000,
  totalTimeoutMs: 15_000,
  maxPendingPerSource: 8,
  maxPending: 256,
} as const

/** The soft open-file limit of this process, or `Infinity` when unknown or unlimited. */
export function softFdLimit(limitsText?: string): number {
  let text = limitsText
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8')
    } catch {
      return Number.POSITIVE_INFINITY
    }
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1]
  const n = soft === undefined ? Number.NaN : Number(soft)
  return Number.isFinite(n) && n > 0 ? n : Number.POSITIVE_INFINITY
}

export function resolveInboundLimits(limits: InboundLimits = {}): ResolvedInboundLimits {
  const fdLimit = limits.fdLimit ?? softFdLimit()
  const fdReserve =
    limits.fdReserve ?? (Number.isFinite(fdLimit) ? Math.max(64, Math.ceil(fdLimit / 4)) : 0)
  return { ...defaultInboundLimits, ...definedOnly(limits), fdLimit, fdReserve }
}

/**
 * How many pending inbound connections the fd budget allows: the limit minus the reserve,
 * at least 1 so a node with a tiny limit still accepts someone.
 */
export function fdBudget(limits: ResolvedInboundLimits): number {
  return Math.max(1, limits.fdLimit - limits.fdReserve)
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
