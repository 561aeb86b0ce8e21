import { lookup } from 'node:dns/promises'
import { abortReason, Deadline, type Endpoint } from '@p2pd/interface'
import { DEFAULT_STUN_PORT } from '../constants.js'
import { StunError } from '../errors.js'
import { ipFamily } from '../ip.js'

/**
 * Parses a server given as `host`, `host:port`, `1.2.3.4`, `1.2.3.4:port`, `[v6]:port` or a
 * bare IPv6 literal. The port defaults to 3478. Throws `STUN_BAD_INPUT`.
 */
export function parseServer(spec: string, defaultPort = DEFAULT_STUN_PORT): Endpoint {
  const text = spec.trim()
  let host = text
  let portText: string | undefined
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0) throw new StunError('STUN_BAD_INPUT', `bad server: ${spec}`)
    host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new StunError('STUN_BAD_INPUT', `bad server: ${spec}`)
      portText = rest.slice(1)
    }
  } else if (text.indexOf(':') !== text.lastIndexOf(':')) {
    host = text // a bare IPv6 literal
  } else if (text.includes(':')) {
    const i = text.indexOf(':')
    host = text.slice(0, i)
    portText = text.slice(i + 1)
  }
  const port = portText === undefined ? defaultPort : Number(portText)
  if (
    !/^[A-Za-z0-9.:%_-]+$/.test(host) ||
    (portText !== undefined && !/^\d{1,5}$/.test(portText))
  ) {
    throw new StunError('STUN_BAD_INPUT', `bad server: ${spec}`)
  }
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new StunError('STUN_BAD_INPUT', `bad port in server: ${spec}`)
  }
  return { host, port }
}

export interface ResolveOptions {
  /** Wanted address family; default: whatever the resolver returns first. */
  readonly family?: 4 | 6
  readonly signal?: AbortSignal
  /** Deadline for the DNS lookup (default 3 s). */
  readonly timeoutMs?: number
}

/**
 * Turns a server (a {@link parseServer} string or an endpoint) into an IP endpoint. IP literals
 * are returned as they are; names go through the system resolver with a deadline.
 * Throws `STUN_RESOLVE` (or the typed abort reason).
 */
export async function resolveServer(
  server: string | Endpoint,
  opts: ResolveOptions = {},
): Promise<Endpoint> {
  const ep = typeof server === 'string' ? parseServer(server) : server
  const fam = ipFamily(ep.host)
  if (fam !== 0) {
    if (opts.family && fam !== opts.family) {
      throw new StunError('STUN_RESOLVE', `${ep.host} is not an IPv${opts.family} address`)
    }
    return { host: ep.host, port: ep.port }
  }
  const deadline = new Deadline(opts.timeoutMs ?? 3000, opts.signal, `resolving ${ep.host}`)
  try {
    // The resolver cannot be cancelled: the race settles at the deadline regardless.
    const found = await deadline.race(lookup(ep.host, opts.family ? { family: opts.family } : {}))
    return { host: found.address, port: ep.port }
  } catch (cause) {
    if (deadline.aborted) throw abortReason(deadline.signal)
    throw new StunError('STUN_RESOLVE', `cannot resolve ${ep.host}`, { cause })
  } finally {
    deadline.dispose()
  }
}
