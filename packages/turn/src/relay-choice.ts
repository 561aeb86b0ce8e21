/**
 * Whether a TCP allocation is worth using, or the UDP allocation (with the reliable stream)
 * would carry more.
 *
 * A TCP relay leg moves at most one socket buffer per round trip when the server fixes its
 * buffer sizes: kernel autotuning is off for such a socket, so the window never grows past
 * them. coturn sets 64 KiB on every TCP socket it opens or accepts, and no option changes
 * it; at 50 ms per leg that is ~12 Mbit/s however fast the path is. Our own server leaves
 * autotuning on. A server that names itself coturn in its (authenticated) SOFTWARE attribute
 * is taken to have the fixed buffers; one that says nothing, or something else, is not.
 *
 * The one hop (`tcp-one-hop.ts`) leaves this estimate as it was: it drops the server's copy to
 * itself, a loopback leg (CPU-bound in coturn, not window-bound), while the two legs over the
 * network — offerer to server, server to answerer — keep their fixed windows and round trips.
 */
import type { StrategyContext } from '@p2pd/interface'
import type { TurnTcpClient } from './client/tcp-client.js'
import type { TurnInit } from './strategy.js'

/** Bytes a TCP leg keeps in flight when the server fixes its buffers (coturn: 64 KiB). */
export const FIXED_TCP_WINDOW_BYTES = 64 * 1024

/**
 * What the UDP relay with the reliable stream carries when the path is not the limit, in
 * bytes per second: 100 Mbit/s, below what it does on loopback (CPU-bound, 28–40 MB/s on a
 * 2-core machine) and what it did through a 100 ms lab path.
 */
export const UDP_RELAY_BYTES_PER_S = 12_500_000

/** What a TCP allocation told us about its server. */
export interface TcpRelayInfo {
  /** SOFTWARE of the Allocate response, if any. */
  readonly software: string | undefined
  /** Round trip of the Allocate exchange (ms), if measured. */
  readonly rttMs: number | undefined
}

/** The decision and a sentence for the strategy's log. */
export interface RelayChoice {
  readonly tcp: boolean
  readonly reason: string
}

/** The fixed window of the server's TCP legs, or undefined when they autotune (or we can't tell). */
export function fixedTcpWindow(software: string | undefined): number | undefined {
  return software !== undefined && /^\s*coturn\b/i.test(software)
    ? FIXED_TCP_WINDOW_BYTES
    : undefined
}

/**
 * Keep the TCP allocation unless its legs are window-capped below what the UDP relay
 * carries: window / RTT < {@link UDP_RELAY_BYTES_PER_S}, i.e. a coturn farther than ~5 ms.
 */
export function chooseTcpRelay(info: TcpRelayInfo): RelayChoice {
  const name = info.software ? `"${info.software}"` : 'the server'
  const window = fixedTcpWindow(info.software)
  if (window === undefined) {
    return { tcp: true, reason: `TCP relay on ${name}: its TCP legs are not known to be capped` }
  }
  if (info.rttMs === undefined) {
    return { tcp: true, reason: `TCP relay on ${name}: round trip unknown, keeping TCP` }
  }
  const rtt = Math.max(info.rttMs, 0.01)
  const capMbit = (window * 8) / rtt / 1000
  const udpMbit = (UDP_RELAY_BYTES_PER_S * 8) / 1e6
  const figures = `${Math.round(window / 1024)} KiB per ${rtt.toFixed(1)} ms round trip = ~${capMbit.toFixed(0)} Mbit/s per leg`
  if ((window * 1000) / rtt >= UDP_RELAY_BYTES_PER_S) {
    return { tcp: true, reason: `TCP relay on ${name}: ${figures}, not below ~${udpMbit} over UDP` }
  }
  return {
    tcp: false,
    reason: `UDP relay instead of TCP on ${name}: fixed TCP buffers, ${figures}, below ~${udpMbit} over UDP`,
  }
}

/**
 * Whether to relay over the TCP allocation `tcp` just made (logged either way): always with
 * `tcp: true`, else unless its legs are window-capped below the UDP relay.
 */
export function keepTcp(ctx: StrategyContext, init: TurnInit, tcp: TurnTcpClient): boolean {
  const choice = chooseTcpRelay({ software: tcp.software, rttMs: tcp.allocateRttMs })
  if (init.tcp === true) {
    ctx.log(`turn: TCP relay (tcp: true; ${choice.reason})`)
    return true
  }
  ctx.log(`turn: ${choice.reason}`)
  return choice.tcp
}
