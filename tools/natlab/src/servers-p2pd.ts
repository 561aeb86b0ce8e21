/**
 * Lab servers built from our own packages, as {@link LabServer} plug-ins: `@p2pd/stun`'s RFC 5780
 * server, `@p2pd/ntp`'s SNTP server and `@p2pd/turn`'s TURN server. Each runs as its own Node
 * process (`servers-p2pd-main.ts`, through tsx) inside the lab's internet namespace, is tracked
 * by PID and stopped with SIGTERM.
 *
 * ```ts
 * const lab = await Lab.up({ peers, servers: [...defaultServers(), ...p2pdServers()] })
 * lab.info.servers['p2pd-stun'].stun   // { host: '198.18.0.30', port: 3478, … }
 * ```
 */
import { spawnServer } from '@p2pd/testkit'
import { bridge6Of, PUBLIC_CIDR, PUBLIC6_CIDR, SERVER_IPS } from './addressing.js'
import { tool } from './exec.js'
import { nodeTsArgv, PACKAGE_DIR, srcFile } from './node-in-ns.js'
import { type LabEndpoint, type LabServer, listening, type RunningLabServer } from './servers.js'

/** Our STUN server's two public IPs (coturn has .10/.11). */
export const P2PD_STUN_IPS = ['198.18.0.30', '198.18.0.31'] as const

/** Starts `servers-p2pd-main.ts KIND OPTIONS` in the internet namespace and waits for `ready`. */
async function startOwn(
  name: string,
  kind: 'stun' | 'sntp' | 'turn',
  options: Record<string, unknown>,
  ctx: Parameters<LabServer['start']>[0],
  ready: () => Promise<boolean>,
  endpoints: Record<string, LabEndpoint>,
): Promise<RunningLabServer> {
  const [node, ...rest] = nodeTsArgv(srcFile('servers-p2pd-main.ts'), [
    '--tag',
    ctx.prefix,
    kind,
    JSON.stringify(options),
  ])
  const proc = await spawnServer({
    name: `${name} in ${ctx.ns}`,
    command: tool('ip'),
    args: ['netns', 'exec', ctx.ns, node as string, ...rest],
    cwd: PACKAGE_DIR,
    ready,
    readyTimeoutMs: 30_000,
  })
  ctx.track(proc.pid, name)
  return { name, endpoints, pids: [proc.pid], stop: () => proc.stop() }
}

/** One server from two processes (its IPv4 and its IPv6 instance), stopped together. */
function both(a: RunningLabServer, b: RunningLabServer | undefined): RunningLabServer {
  if (!b) return a
  return {
    name: a.name,
    endpoints: { ...a.endpoints, ...b.endpoints },
    pids: [...a.pids, ...b.pids],
    stop: async () => {
      await Promise.allSettled([a.stop(), b.stop()])
    },
  }
}

export interface P2pdStunOptions {
  /** Primary and alternate IPs (default 198.18.0.30 and .31). */
  readonly primary?: string
  readonly alternate?: string
  /** Primary port; the alternate port is port + 1 (default 3478). */
  readonly port?: number
}

/**
 * `@p2pd/stun`'s `StunServer`: RFC 5780 over UDP and TCP on two IPs × two ports.
 * Server name `p2pd-stun`; endpoints `stun` (primary IP/port) and `stunAlt` (alternate IP/port);
 * in a dual-stack lab a second instance on the IPv6 twins adds `stun6` and `stunAlt6`.
 */
export function p2pdStunServer(opts: P2pdStunOptions = {}): LabServer {
  const primary = opts.primary ?? P2PD_STUN_IPS[0]
  const alternate = opts.alternate ?? P2PD_STUN_IPS[1]
  const port = opts.port ?? 3478
  const instance = (ctx: Parameters<LabServer['start']>[0], p: string, a: string, v6: boolean) =>
    startOwn(
      'p2pd-stun',
      'stun',
      { primary: p, alternate: a, port },
      ctx,
      async () => {
        const h = v6 ? `[${a}]` : a
        return (
          (await listening(ctx.ns, 'udp', h, port + 1)) &&
          (await listening(ctx.ns, 'tcp', h, port + 1))
        )
      },
      {
        [v6 ? 'stun6' : 'stun']: { host: p, port, transport: 'udp+tcp' },
        [v6 ? 'stunAlt6' : 'stunAlt']: { host: a, port: port + 1, transport: 'udp+tcp' },
      },
    )
  const primary6 = bridge6Of(primary)
  const alternate6 = bridge6Of(alternate)
  return {
    name: 'p2pd-stun',
    addresses: [primary, alternate],
    addresses6: [primary6, alternate6],
    start: async (ctx) =>
      both(
        await instance(ctx, primary, alternate, false),
        ctx.ipv6 ? await instance(ctx, primary6, alternate6, true) : undefined,
      ),
  }
}

/**
 * `@p2pd/ntp`'s `SntpServer` on the reserved SNTP address (198.18.0.14:123). Endpoint `sntp`;
 * in a dual-stack lab also `sntp6` (2001:db8::14).
 */
export function p2pdSntpServer(opts: { host?: string; port?: number } = {}): LabServer {
  const host = opts.host ?? SERVER_IPS.sntp
  const port = opts.port ?? 123
  const host6 = bridge6Of(host)
  const instance = (ctx: Parameters<LabServer['start']>[0], h: string, v6: boolean) =>
    startOwn(
      'p2pd-sntp',
      'sntp',
      { host: h, port },
      ctx,
      () => listening(ctx.ns, 'udp', v6 ? `[${h}]` : h, port),
      { [v6 ? 'sntp6' : 'sntp']: { host: h, port, transport: 'udp' } },
    )
  return {
    name: 'p2pd-sntp',
    addresses: [host],
    addresses6: [host6],
    start: async (ctx) =>
      both(
        await instance(ctx, host, false),
        ctx.ipv6 ? await instance(ctx, host6, true) : undefined,
      ),
  }
}

export interface P2pdTurnOptions {
  readonly host?: string
  readonly port?: number
  readonly user?: string
  readonly password?: string
  readonly realm?: string
  /**
   * Allocations per user. Default 10,000: every runner of every trial allocates with the same
   * lab credential, and a runner killed by the lab cannot deallocate (its allocation lives out
   * its lifetime), so the package default (10) would run out within one matrix.
   */
  readonly maxAllocationsPerUser?: number
}

/**
 * `@p2pd/turn`'s `TurnServer` (UDP and TCP) on the reserved TURN address (198.18.0.13:3478),
 * relaying from the same IP. The peer policy is the package default (no loopback, no private,
 * no reserved peers) plus the lab's "internet", 198.18.0.0/15: a benchmarking range, so refused
 * unless allowed explicitly. Endpoint `turn` with `extra` = `{ user, password, realm }`.
 *
 * In a dual-stack lab a second instance listens on the IPv6 twin (2001:db8::13, endpoint
 * `turn6`) for IPv6-only hosts, and both instances relay in both families (the lab's IPv6
 * internet, 2001:db8::/32, allowed too): each side of a relayed pair may use either instance,
 * and both relays must share one family.
 */
export function p2pdTurnServer(opts: P2pdTurnOptions = {}): LabServer {
  const host = opts.host ?? SERVER_IPS.turn
  const host6 = bridge6Of(host)
  const port = opts.port ?? 3478
  const user = opts.user ?? 'p2pd'
  const password = opts.password ?? 'secret'
  const realm = opts.realm ?? 'p2pd.test'
  const extra = { user, password, realm }
  const instance = (ctx: Parameters<LabServer['start']>[0], listen: string, v6: boolean) =>
    startOwn(
      'p2pd-turn',
      'turn',
      {
        host: listen,
        port,
        relayHosts: ctx.ipv6 ? [host, host6] : [host],
        relayPortRange: [49152, 65535],
        realm,
        users: { [user]: password },
        allowPeerRanges: ctx.ipv6 ? [PUBLIC_CIDR, PUBLIC6_CIDR] : [PUBLIC_CIDR],
        maxAllocations: 20_000,
        maxAllocationsPerUser: opts.maxAllocationsPerUser ?? 10_000,
        // Runners killed mid-trial leave allocations behind: let them expire soon.
        defaultLifetimeSec: 300,
        maxLifetimeSec: 300,
      },
      ctx,
      () => listening(ctx.ns, 'udp', v6 ? `[${listen}]` : listen, port),
      { [v6 ? 'turn6' : 'turn']: { host: listen, port, transport: 'udp', extra } },
    )
  return {
    name: 'p2pd-turn',
    addresses: [host],
    addresses6: [host6],
    start: async (ctx) =>
      both(
        await instance(ctx, host, false),
        ctx.ipv6 ? await instance(ctx, host6, true) : undefined,
      ),
  }
}

/** Our three servers: STUN (`p2pd-stun`), SNTP (`p2pd-sntp`) and TURN (`p2pd-turn`). */
export function p2pdServers(): LabServer[] {
  return [p2pdStunServer(), p2pdSntpServer(), p2pdTurnServer()]
}
