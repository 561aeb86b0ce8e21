import type { Endpoint, PeerAddress } from '@p2pd/interface'
import { ipFamily } from '@p2pd/stun'
import { TurnClient } from './client/turn-client.js'
import { TurnError } from './errors.js'
import type { TurnInit } from './strategy.js'

/**
 * Which relayed family the relay strategy allocates in. The two relays talk to each other, so
 * both allocations must be of one family; the hosts' own families only decide which server
 * address each can reach.
 *
 * - The offerer prefers IPv6 when either side has IPv6 addresses only (its relay is then
 *   likely an IPv6 deployment), else the server's default (IPv4), and tries the other family
 *   when its server refuses the first (440).
 * - The answerer allocates in the family of the offered relayed address, nothing else.
 */
export function offerFamilies(local: PeerAddress, remote: PeerAddress): readonly (4 | 6)[] {
  const v6Only = (p: PeerAddress) => p.ip4.length === 0 && p.ip6.length > 0
  return v6Only(local) || v6Only(remote) ? [6, 4] : [4, 6]
}

/** The family the answerer must allocate in: the offered relayed address's. */
export function answerFamily(offered: Endpoint): 4 | 6 {
  return ipFamily(offered.host) === 6 ? 6 : 4
}

/**
 * `init` with its client options asking for `family`, and its servers ordered so the ones we
 * can reach come first: with addresses of one family only, a server given as an IP literal
 * of the other family is tried last. IPv4 is asked by saying nothing (the server default, and
 * what servers without REQUESTED-ADDRESS-FAMILY understand).
 */
export function withFamily(init: TurnInit, family: 4 | 6, local?: PeerAddress): TurnInit {
  const client = { ...init.client }
  if (family === 6) Object.assign(client, { addressFamily: 6 })
  else delete (client as { addressFamily?: 4 | 6 }).addressFamily
  return { ...init, client, servers: local ? reachableFirst(init.servers, local) : init.servers }
}

function reachableFirst(servers: TurnInit['servers'], local: PeerAddress): TurnInit['servers'] {
  const has4 = local.ip4.length > 0
  const has6 = local.ip6.length > 0
  if (has4 === has6) return servers
  const unreachable = (host: string) => ipFamily(host) === (has4 ? 6 : 4)
  return [
    ...servers.filter((s) => !unreachable(s.host)),
    ...servers.filter((s) => unreachable(s.host)),
  ]
}

/**
 * A UDP allocation on the first server that grants one, in the first of `families` it grants
 * (the next family is asked only after a 440). Throws the last error when no server does.
 */
export async function allocateUdp(
  init: TurnInit,
  families: readonly (4 | 6)[],
  local: PeerAddress | undefined,
  signal: AbortSignal,
): Promise<TurnClient> {
  let last: unknown
  for (const server of withFamily(init, 4, local).servers) {
    try {
      return await inFamilies(families, signal, (family) =>
        TurnClient.allocate(server, { ...withFamily(init, family).client, signal }),
      )
    } catch (err) {
      if (signal.aborted) throw err
      last = err
    }
  }
  throw last ?? new TurnError('TURN_BAD_INPUT', 'no TURN server configured')
}

/**
 * `allocate` in the first of `families` the server grants: the next family is asked only after
 * a 440 (`TURN_ADDRESS_FAMILY`); any other error, or the last family's, is thrown.
 */
export async function inFamilies<T>(
  families: readonly (4 | 6)[],
  signal: AbortSignal,
  allocate: (family: 4 | 6) => Promise<T>,
  onRefused?: (family: 4 | 6, next: 4 | 6, err: Error) => void,
): Promise<T> {
  for (const [i, family] of families.entries()) {
    try {
      return await allocate(family)
    } catch (err) {
      const next = families[i + 1]
      const refused = (err as { code?: unknown }).code === 'TURN_ADDRESS_FAMILY'
      if (signal.aborted || !refused || next === undefined) throw err
      onRefused?.(family, next, err as Error)
    }
  }
  throw new TurnError('TURN_BAD_INPUT', 'no address family to allocate in')
}
