import { abortReason, type Endpoint, throwIfAborted } from '@p2pd/interface'
import { resolveServer, StunTcpClient } from '@p2pd/stun'
import { PunchError } from './errors.js'
import type { Mapping } from './protocol/messages.js'
import { freePort } from './sockets/free-port.js'

/** A STUN server: `host:port` text or an endpoint. */
export type StunServerSpec = string | Endpoint

/**
 * Local ports held for a punch, with the endpoint the peer must dial for each. In `remote`
 * mode each port keeps its STUN-over-TCP connection open until {@link HeldMappings.release}:
 * the NAT mapping we announced stays alive and no FIN makes the NAT forget it (P2PD's reason
 * too). The punch connects are bound to the same ports *while* those connections are open —
 * this works in Node because every socket here is bound explicitly (SO_REUSEADDR on all of
 * them; tested in `test/ports.test.ts`) — and the connections are closed after the punch.
 */
export class HeldMappings {
  readonly #clients: StunTcpClient[]
  readonly mappings: readonly Mapping[]
  /** The local IP the ports are bound to (`undefined`: the unspecified address). */
  readonly localAddress: string | undefined

  constructor(
    mappings: Mapping[],
    localAddress: string | undefined,
    clients: StunTcpClient[] = [],
  ) {
    this.mappings = mappings
    this.localAddress = localAddress
    this.#clients = clients
  }

  /** Closes every STUN keep-alive connection. Idempotent. */
  async release(): Promise<void> {
    await Promise.allSettled(this.#clients.splice(0).map((c) => c.close()))
  }
}

/** Fresh ports on `host` (LAN / same machine): the peer dials `host:port` directly. */
export async function localMappings(
  host: string,
  count: number,
  signal: AbortSignal,
): Promise<HeldMappings> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort(host, signal))
  return new HeldMappings(
    [...ports].map((local) => ({ local, ext: { host, port: local } })),
    host,
  )
}

/**
 * Observes `count` fresh mappings, one STUN-over-TCP connection per fresh local port, in
 * order (a sequential NAT's prediction continues from the last one). Each server is tried in
 * turn, resolved in `family` (servers of the other family are skipped); a mapping whose IP
 * family differs from `family` is refused.
 */
export async function observeMappings(opts: {
  servers: readonly StunServerSpec[]
  count: number
  family: 4 | 6
  localAddress?: string
  signal: AbortSignal
  timeoutMs?: number
  /** Observe one after the other (sequential NATs); default: all at once. */
  sequential?: boolean
}): Promise<HeldMappings> {
  if (opts.servers.length === 0) {
    throw new PunchError('PUNCH_NO_MAPPING', 'remote punching needs at least one STUN server')
  }
  const bindHost = opts.localAddress ?? (opts.family === 6 ? '::' : '0.0.0.0')
  const taken = new Set<number>()
  const fresh = async () => {
    for (;;) {
      const p = await freePort(bindHost, opts.signal)
      if (!taken.has(p)) return taken.add(p) && p
    }
  }
  const observeOne = async (): Promise<{ client: StunTcpClient; mapping: Mapping }> => {
    let last: unknown
    for (const server of opts.servers) {
      throwIfAborted(opts.signal)
      let to: Endpoint
      try {
        // A server of the other family (or a name without such an address) cannot observe
        // this family's mapping: skip it before spending a port.
        to = await resolveServer(server, { family: opts.family, signal: opts.signal })
      } catch (err) {
        if (opts.signal.aborted) throw abortReason(opts.signal)
        last = err
        continue
      }
      const local = await fresh()
      let client: StunTcpClient | undefined
      try {
        client = await StunTcpClient.connect(to, {
          localAddress: bindHost,
          localPort: local,
          signal: opts.signal,
          timeoutMs: opts.timeoutMs ?? 2_000,
        })
        const r = await client.binding({ signal: opts.signal, timeoutMs: opts.timeoutMs ?? 2_000 })
        if (r.mapped.family !== opts.family) throw new Error('mapping of the other IP family')
        return { client, mapping: { local, ext: { host: r.mapped.host, port: r.mapped.port } } }
      } catch (err) {
        await client?.close()
        if (opts.signal.aborted) throw abortReason(opts.signal)
        last = err
      }
    }
    throw new PunchError(
      'PUNCH_NO_MAPPING',
      `no STUN server answered: ${(last as Error).message}`,
      {
        cause: last,
      },
    )
  }
  // Concurrently when order does not matter (endpoint-independent NATs); in order otherwise
  // (a sequential NAT's prediction continues from the last mapping).
  const results = opts.sequential
    ? await sequentially(opts.count, observeOne)
    : await Promise.allSettled(Array.from({ length: opts.count }, observeOne))
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) {
    await Promise.allSettled(ok.map((r) => r.client.close()))
    throw (failed as PromiseRejectedResult).reason
  }
  const clients = ok.map((r) => r.client)
  const mappings = ok.map((r) => r.mapping)
  return new HeldMappings(mappings, bindHost, clients)
}

async function sequentially<T>(
  n: number,
  fn: () => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const out: PromiseSettledResult<T>[] = []
  for (let i = 0; i < n; i++) {
    try {
      out.push({ status: 'fulfilled', value: await fn() })
    } catch (reason) {
      out.push({ status: 'rejected', reason })
      break
    }
  }
  return out
}
