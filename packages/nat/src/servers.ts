import type { Endpoint } from '@p2pd/interface'
import { type BindingResult, ipFamily, parseServer, resolveServer } from '@p2pd/stun'
import { NatError } from './errors.js'
import type { AlternateSource } from './types.js'

/** A STUN server as callers give it: `host`, `host:port`, `[v6]:port` or an endpoint. */
export type ServerSpec = string | Endpoint

/**
 * Resolves servers to IP endpoints of one family, in order, dropping those that fail.
 * Throws `NAT_BAD_INPUT` for an empty list and `NAT_NO_SERVER` when none resolves.
 */
export async function resolveServers(
  servers: readonly ServerSpec[],
  family: 4 | 6,
  signal?: AbortSignal,
): Promise<Endpoint[]> {
  if (servers.length === 0) throw new NatError('NAT_BAD_INPUT', 'no STUN server given')
  const settled = await Promise.allSettled(
    servers.map((s) => resolveServer(s, { family, ...(signal ? { signal } : {}) })),
  )
  const out = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  if (out.length === 0) {
    const first = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult
    throw new NatError('NAT_NO_SERVER', `no STUN server resolves to IPv${family}`, {
      cause: first.reason,
    })
  }
  return out
}

/** The family of an IP literal, or the fallback when `host` is not one (or undefined). */
export function familyOf(host: string | undefined, fallback: 4 | 6 = 4): 4 | 6 {
  if (!host) return fallback
  const f = ipFamily(host)
  return f === 0 ? fallback : f
}

/**
 * The family to probe when the caller names none: the local address's; else IPv6 when every
 * server is an IPv6 literal (`[2001:db8::1]:3478`), so IPv6-only servers need no flag; else IPv4.
 */
export function probeFamily(
  localAddress: string | undefined,
  servers: readonly ServerSpec[],
): 4 | 6 {
  if (localAddress) return familyOf(localAddress)
  const v6 = (s: ServerSpec) => {
    try {
      return ipFamily(typeof s === 'string' ? parseServer(s).host : s.host) === 6
    } catch {
      return false
    }
  }
  return servers.length > 0 && servers.every(v6) ? 6 : 4
}

/**
 * The server's alternate address from a Binding response: RFC 5780 OTHER-ADDRESS, else the
 * RFC 3489 CHANGED-ADDRESS. An alternate equal to the primary IP or port is useless for the
 * tests and ignored.
 */
export function alternateOf(r: BindingResult): { endpoint?: Endpoint; source: AlternateSource } {
  const cand: [Endpoint | undefined, AlternateSource][] = [
    [r.attributes.otherAddress, 'rfc5780'],
    [r.attributes.changedAddress, 'rfc3489'],
  ]
  for (const [ep, source] of cand) {
    if (ep && ep.host !== r.server.host && ep.port !== r.server.port) {
      return { endpoint: { host: ep.host, port: ep.port }, source }
    }
  }
  return { source: 'none' }
}
