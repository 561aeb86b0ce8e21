import {
  AbortError,
  abortReason,
  Deadline,
  type Endpoint,
  linkSignals,
  throwIfAborted,
} from '@p2pd/interface'
import { StunError } from '../errors.js'
import type { BindingRequestOptions, BindingResult } from './binding.js'
import { HealthTable, type ServerHealth } from './health.js'
import { parseServer, resolveServer } from './resolve.js'
import { StunTcpClient } from './tcp-client.js'
import { StunUdpClient } from './udp-client.js'

export interface PoolQueryOptions extends BindingRequestOptions {
  /** How many successful servers are wanted (default 1). */
  readonly want?: number
  readonly transport?: 'udp' | 'tcp'
  /** Servers queried at the same time (default `want + 1`). */
  readonly concurrency?: number
  readonly signal?: AbortSignal
  /** Deadline of the whole query (default 5,000 ms). */
  readonly timeoutMs?: number
  /** Deadline per server, DNS included (default 2,000 ms). */
  readonly perServerTimeoutMs?: number
  /** Address family servers must resolve to (default: 4). */
  readonly family?: 4 | 6
  /** UDP: send every request from this client's socket (one local mapping for all servers). */
  readonly client?: StunUdpClient
  /** UDP without `client`, and TCP: local address to bind. */
  readonly localAddress?: string
  /** TCP: return the connections open (`connection` in each result); default false. */
  readonly keepOpen?: boolean
}

/** One server's answer in a pool query. */
export interface PoolBinding extends BindingResult {
  /** The server as given to the pool. */
  readonly spec: string
  /** TCP with `keepOpen`: the live connection; the caller closes it. */
  readonly connection?: StunTcpClient
}

/**
 * A list of STUN servers (`host:port`, IP, `[v6]:port`; names are resolved with a deadline)
 * queried concurrently, best first. Each query updates per-server health (success rate,
 * smoothed RTT, back-off after failures), so later queries prefer servers that answer.
 */
export class StunServerPool {
  readonly #servers: string[]
  readonly #health: HealthTable

  constructor(servers: readonly (string | Endpoint)[], opts: { now?: () => number } = {}) {
    this.#servers = servers.map((s) =>
      typeof s === 'string' ? s : `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`,
    )
    for (const s of this.#servers) parseServer(s) // reject bad entries now
    this.#health = new HealthTable(opts.now)
  }

  /** The servers, best first. */
  ranked(): string[] {
    return this.#health.rank(this.#servers)
  }

  /** Health of every server, best first. */
  health(): ServerHealth[] {
    return this.ranked().map((s) => this.#health.get(s))
  }

  /**
   * Asks servers, best first and `concurrency` at a time, until `want` answered. Returns the
   * answers (at least one; fewer than `want` when servers ran out). Throws `STUN_ALL_FAILED`
   * when none answered. Every socket opened and not returned is closed.
   */
  async query(opts: PoolQueryOptions = {}): Promise<PoolBinding[]> {
    const want = Math.max(1, opts.want ?? 1)
    const transport = opts.transport ?? 'udp'
    const concurrency = Math.max(1, opts.concurrency ?? want + 1)
    const outer = new Deadline(opts.timeoutMs ?? 5000, opts.signal, 'STUN pool query')
    const stop = new AbortController()
    const link = linkSignals(outer.signal, stop.signal)
    const signal = link.signal
    try {
      return await this.#query(opts, want, transport, concurrency, outer, stop, signal)
    } finally {
      link.dispose()
      outer.dispose()
    }
  }

  async #query(
    opts: PoolQueryOptions,
    want: number,
    transport: 'udp' | 'tcp',
    concurrency: number,
    outer: Deadline,
    stop: AbortController,
    signal: AbortSignal,
  ): Promise<PoolBinding[]> {
    const queue = this.ranked()
    const results: PoolBinding[] = []
    const errors: unknown[] = []
    const ownClient =
      transport === 'udp' && !opts.client
        ? await StunUdpClient.open({
            ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
            type: opts.family === 6 ? 'udp6' : 'udp4',
            signal: outer.signal,
          })
        : undefined
    const udp = opts.client ?? ownClient

    const one = async (spec: string): Promise<PoolBinding> => {
      const deadline = new Deadline(opts.perServerTimeoutMs ?? 2000, signal, `STUN ${spec}`)
      try {
        return await ask(spec, deadline.signal)
      } finally {
        deadline.dispose()
      }
    }

    const ask = async (spec: string, perServer: AbortSignal): Promise<PoolBinding> => {
      const server = await resolveServer(spec, { family: opts.family ?? 4, signal: perServer })
      if (transport === 'udp' && udp) {
        const r = await udp.binding(server, {
          ...opts,
          signal: perServer,
          timeoutMs: opts.perServerTimeoutMs ?? 2000,
        })
        return { ...r, spec }
      }
      const conn = await StunTcpClient.connect(server, {
        ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
        signal: perServer,
      })
      try {
        const r = await conn.binding({
          ...opts,
          signal: perServer,
          timeoutMs: opts.perServerTimeoutMs ?? 2000,
        })
        if (opts.keepOpen && results.length < want && !signal.aborted)
          return { ...r, spec, connection: conn }
        await conn.close()
        return { ...r, spec }
      } catch (err) {
        await conn.close()
        throw err
      }
    }

    const worker = async () => {
      while (results.length < want && !signal.aborted) {
        const spec = queue.shift()
        if (spec === undefined) return
        try {
          const r = await one(spec)
          this.#health.success(spec, r.rttMs)
          if (results.length < want) results.push(r)
          else await r.connection?.close()
          if (results.length >= want) stop.abort(new AbortError('enough servers answered'))
        } catch (err) {
          // A server cut short because the others already answered is not its fault.
          if (!stop.signal.aborted) this.#health.failure(spec)
          errors.push(err)
        }
      }
    }

    try {
      throwIfAborted(outer.signal)
      // Bounded by the overall deadline even if a server's socket ignores its signal; the
      // answers gathered so far still count.
      await outer.race(
        Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker)),
      )
    } catch (err) {
      if (!outer.aborted) throw err
    } finally {
      await ownClient?.close()
    }
    if (results.length > 0) return results.slice()
    if (outer.aborted) throw abortReason(outer.signal)
    throw new StunError('STUN_ALL_FAILED', `no STUN server answered (${errors.length} tried)`, {
      cause: new AggregateError(errors),
    })
  }
}
