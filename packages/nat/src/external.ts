import type { Endpoint } from '@p2pd/interface'
import { normalizeIp, type StunAddress, StunServerPool } from '@p2pd/stun'
import { type LocalInterface, listInterfaces, probeAddresses } from './interfaces.js'
import { type IpScopeOptions, isPublicIp } from './ip-scope.js'
import type { ServerSpec } from './servers.js'
import type { Transport } from './types.js'

export interface ExternalAddressOptions {
  readonly servers: readonly ServerSpec[]
  readonly family?: 4 | 6
  /** Local address to send from (one interface). */
  readonly localAddress?: string
  readonly transport?: Transport
  /** Answers wanted (default min(3, servers)). Servers are asked `want` at a time. */
  readonly want?: number
  /** Votes the winner needs (default 2, or 1 with a single server). */
  readonly minAgree?: number
  /** Which ranges count as public (the lab declares 198.18.0.0/15). */
  readonly scope?: IpScopeOptions
  readonly signal?: AbortSignal
  /** Deadline (default 2,000 ms). */
  readonly timeoutMs?: number
}

/** The external address one interface shows the world, by majority of STUN servers. */
export interface ExternalAddress {
  /** The winning IP (undefined when nobody answered). */
  readonly ip?: string
  readonly votes: number
  /** True when the winner has ≥ `minAgree` votes and more than half of the answers. */
  readonly agreed: boolean
  /** True when the winner is a public address (see `scope`). */
  readonly public: boolean
  readonly answers: readonly { readonly server: Endpoint; readonly mapped: StunAddress }[]
  readonly localAddress?: string
}

/**
 * Asks a few STUN servers (not all of them: P2PD asked 215) for this interface's mapped
 * address and takes the majority. Failures are not votes (P2PD counted two failures as
 * agreeing on "None").
 */
export async function discoverExternalAddress(
  opts: ExternalAddressOptions,
): Promise<ExternalAddress> {
  const want = Math.max(1, Math.min(opts.want ?? 3, opts.servers.length))
  const minAgree = Math.min(opts.minAgree ?? 2, opts.servers.length)
  const pool = new StunServerPool(opts.servers)
  const answers = await pool
    .query({
      want,
      concurrency: want,
      transport: opts.transport ?? 'udp',
      family: opts.family ?? 4,
      timeoutMs: opts.timeoutMs ?? 2000,
      perServerTimeoutMs: Math.min(opts.timeoutMs ?? 2000, 1500),
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    })
    .catch(() => [])
  const votes = new Map<string, number>()
  for (const a of answers) {
    const ip = normalizeIp(a.mapped.host)
    votes.set(ip, (votes.get(ip) ?? 0) + 1)
  }
  const [ip, count] = [...votes].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0]
  return {
    ...(ip !== undefined ? { ip } : {}),
    votes: count,
    agreed: ip !== undefined && count >= minAgree && count > answers.length / 2,
    public: ip !== undefined && isPublicIp(ip, opts.scope),
    answers: answers.map((a) => ({ server: a.server, mapped: a.mapped })),
    ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
  }
}

/**
 * {@link discoverExternalAddress} for every probe-worthy address of every interface, both
 * families, concurrently (see `probeAddresses`).
 */
export async function discoverExternalAddresses(
  opts: Omit<ExternalAddressOptions, 'localAddress' | 'family'> & {
    readonly interfaces?: readonly LocalInterface[]
    readonly families?: readonly (4 | 6)[]
  },
): Promise<ExternalAddress[]> {
  const ifaces = opts.interfaces ?? (await listInterfaces(opts.scope ?? {}))
  const jobs = (opts.families ?? [4, 6]).flatMap((family) =>
    probeAddresses(ifaces, family).map((a) =>
      discoverExternalAddress({ ...opts, family, localAddress: a.address }),
    ),
  )
  return Promise.all(jobs)
}
