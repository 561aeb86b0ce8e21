import { type Clock, systemClock } from '@p2pd/interface'
import { NameError } from './errors.js'
import { type LookupOptions, lookupName } from './lookup.js'
import { parseName } from './name.js'
import type { BrokerSet } from './publish.js'
import type { NameRecord } from './record.js'
import { DEFAULT_CLOCK_SKEW_MS, verifyRecord } from './verify.js'

/** Settings of a {@link NameResolver}. */
export interface NameResolverOptions extends BrokerSet {
  /** Skew-corrected clock for expiry checks (default: the system clock). */
  readonly clock?: Clock
  /** Clock-skew allowance (default 60 s, or the clock's uncertainty when larger). */
  readonly skewMs?: number
  /** See {@link LookupOptions.lingerMs}. */
  readonly lingerMs?: number
  /** How many names the replay memory keeps (default 1024; the oldest is forgotten). */
  readonly remember?: number
}

/** Per-call options of {@link NameResolver.resolveRecord}. */
export interface ResolveOptions {
  readonly signal?: AbortSignal
  /** Overrides the resolver's deadline for this call. */
  readonly timeoutMs?: number
}

/**
 * Resolves names to peer addresses over several brokers (see {@link lookupName}) and
 * remembers the highest `seq` it verified per name: a record older than one already seen is
 * a replay and is never returned. Pass it to `createNode({ names })` so that
 * `node.connect('alice.<fingerprint>')` works.
 */
export class NameResolver {
  readonly #o: NameResolverOptions
  readonly #seen = new Map<string, NameRecord>()

  constructor(options: NameResolverOptions) {
    if (!Array.isArray(options?.brokers) || options.brokers.length === 0) {
      throw new NameError('NAME_OPTIONS', 'a name resolver needs at least one broker')
    }
    this.#o = { ...options, brokers: [...options.brokers] }
  }

  /** The newest record seen for `name`, if any (the replay memory). */
  newestSeen(name: string): NameRecord | undefined {
    return this.#seen.get(name)
  }

  /**
   * The newest valid record for `name`. When every record the brokers hold is older than one
   * seen before (a replay, or a broker that missed an update), the remembered record is
   * returned while it is still valid.
   * @throws {@link NameError} `NAME_INVALID`, `NAME_NOT_FOUND`, `NAME_REPLAYED`; a
   * `TimeoutError` at the deadline; `AbortError` when `signal` aborts.
   */
  async resolveRecord(name: string, options: ResolveOptions = {}): Promise<NameRecord> {
    parseName(name)
    const clock = this.#o.clock ?? systemClock
    const skewMs = this.#o.skewMs ?? Math.max(DEFAULT_CLOCK_SKEW_MS, clock.uncertainty)
    const { records } = await lookupName(name, {
      ...this.#o,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      now: () => clock.now(),
      skewMs,
    })
    const newest = records[0] as NameRecord
    const seen = this.#seen.get(name)
    if (seen && newest.seq < seen.seq) {
      try {
        verifyRecord(seen, { name, nowMs: clock.now(), skewMs })
        return seen
      } catch {
        throw new NameError(
          'NAME_REPLAYED',
          `the brokers hold seq ${newest.seq} for ${name}, older than seq ${seen.seq} seen before`,
        )
      }
    }
    this.#remember(newest)
    return newest
  }

  /** The peer address `name` points at now (what `createNode({ names })` calls). */
  async resolve(name: string, signal?: AbortSignal): Promise<string> {
    return (await this.resolveRecord(name, signal ? { signal } : {})).address
  }

  #remember(record: NameRecord): void {
    this.#seen.delete(record.name)
    this.#seen.set(record.name, record)
    const max = this.#o.remember ?? 1024
    while (this.#seen.size > max) {
      const oldest = this.#seen.keys().next().value as string
      this.#seen.delete(oldest)
    }
  }
}

/**
 * A {@link NameResolver} over `brokers`, for `createNode({ names: nameResolver({ brokers }) })`.
 */
export function nameResolver(options: NameResolverOptions): NameResolver {
  return new NameResolver(options)
}
