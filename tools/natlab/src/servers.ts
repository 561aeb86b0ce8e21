import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ServerProcess, spawnServer } from '@p2pd/testkit'
import {
  bridge6Of,
  hostPort,
  OBSERVER_IPS,
  OBSERVER6_IPS,
  SEEN_PORTS,
  SERVER_IPS,
} from './addressing.js'
import { nsRun, tool } from './exec.js'
import { nodeTsArgv, PACKAGE_DIR, srcFile } from './node-in-ns.js'

/** One address a lab server answers on. */
export interface LabEndpoint {
  readonly host: string
  readonly port: number
  readonly transport: 'udp' | 'tcp' | 'udp+tcp'
  /** Optional extras (credentials, realm, URL) a client needs. */
  readonly extra?: Readonly<Record<string, string>>
}

/** What a lab server gets when it starts. */
export interface LabServerContext {
  readonly prefix: string
  /** The internet namespace; the server runs here (`ip netns exec`). */
  readonly ns: string
  /** Scratch directory for configs, databases and logs; removed at teardown. */
  readonly runDir: string
  /** The lab is dual-stack: listen on `addresses6` too (they are on the bridge). */
  readonly ipv6?: boolean
  /** Records a process for teardown by PID (and in the run's state file). */
  track(pid: number, what: string): void
}

/**
 * A lab server plug-in. The lab adds `addresses` to the internet bridge, then calls `start`
 * inside the internet namespace. Built in: {@link coturnServer} (STUN with RFC 5780 on two IPs,
 * and TURN), {@link mosquittoServer} (MQTT) and {@link seenService} (the lab's own
 * address-echo observers). Our own `@p2pd/stun`, SNTP and TURN servers plug in the same way.
 */
export interface LabServer {
  readonly name: string
  /** Public (198.18.0.0/15) addresses the server binds; each is added to the bridge. */
  readonly addresses: readonly string[]
  /** Their IPv6 twins (2001:db8::/64), added to the bridge in a dual-stack lab. */
  readonly addresses6?: readonly string[]
  /** Binaries it needs, checked before anything is built: `[binary, Debian package]`. */
  readonly requires?: readonly (readonly [string, string])[]
  start(ctx: LabServerContext): Promise<RunningLabServer>
}

/** A started lab server. */
export interface RunningLabServer {
  readonly name: string
  /** Named endpoints (`stun`, `stunAlt`, `turn`, `mqtt`, `sntp`, …). */
  readonly endpoints: Readonly<Record<string, LabEndpoint>>
  readonly pids: readonly number[]
  /** Stops it by PID. Idempotent. */
  stop(): Promise<void>
}

/**
 * True once something listens on `host:port` in `ns` (`ss`), for readiness checks; `host`
 * `undefined` accepts any local address.
 */
export async function listening(
  ns: string,
  transport: 'tcp' | 'udp',
  host: string | undefined,
  port: number,
): Promise<boolean> {
  const { stdout } = await nsRun(ns, tool('ss'), ['-Hn', transport === 'tcp' ? '-lt' : '-lu'], {
    allowFail: true,
  })
  return stdout.includes(`${host ?? ''}:${port} `)
}

/** Wraps a testkit {@link ServerProcess} as a running lab server. */
function running(
  name: string,
  proc: ServerProcess,
  endpoints: Record<string, LabEndpoint>,
): RunningLabServer {
  return { name, endpoints, pids: [proc.pid], stop: () => proc.stop() }
}

export interface CoturnOptions {
  readonly primary?: string
  readonly alternate?: string
  readonly port?: number
  readonly user?: string
  readonly password?: string
  readonly realm?: string
}

/**
 * coturn: STUN on two IPs (RFC 5780 turns itself on with two listen IPs; the alternate port is
 * port+1) and TURN with a static long-term credential. Endpoints: `stun`, `stunAlt`, `turn`.
 */
export function coturnServer(opts: CoturnOptions = {}): LabServer {
  const primary = opts.primary ?? SERVER_IPS.stunPrimary
  const alternate = opts.alternate ?? SERVER_IPS.stunAlternate
  const port = opts.port ?? 3478
  const user = opts.user ?? 'p2pd'
  const password = opts.password ?? 'secret'
  const realm = opts.realm ?? 'p2pd.test'
  return {
    name: 'coturn',
    addresses: [primary, alternate],
    requires: [
      ['turnserver', 'coturn'],
      ['turnutils_stunclient', 'coturn'],
    ],
    async start(ctx) {
      const args = [
        'netns', 'exec', ctx.ns, tool('turnserver'),
        '-n', '-L', primary, '-L', alternate, '-p', String(port), '--relay-ip', primary,
        '--min-port=49152', '--max-port=49999', '-a', '-u', `${user}:${password}`, '-r', realm,
        '--no-tls', '--no-dtls', '--no-cli', '-f', '--log-file=stdout', '--simple-log',
        `--db=${join(ctx.runDir, 'turndb')}`, `--pidfile=${join(ctx.runDir, 'turnserver.pid')}`,
      ] // biome-ignore format: one flag per pair reads better than one per line
      const proc = await spawnServer({
        name: `coturn in ${ctx.ns}`,
        command: tool('ip'),
        args,
        ready: async () =>
          (await listening(ctx.ns, 'udp', primary, port)) &&
          (await listening(ctx.ns, 'udp', alternate, port + 1)),
        readyTimeoutMs: 10_000,
      })
      ctx.track(proc.pid, 'coturn')
      const cred = { user, password, realm }
      return running('coturn', proc, {
        stun: { host: primary, port, transport: 'udp+tcp' },
        stunAlt: { host: alternate, port: port + 1, transport: 'udp+tcp' },
        turn: { host: primary, port, transport: 'udp+tcp', extra: cred },
      })
    },
  }
}

/** mosquitto (MQTT over TCP, anonymous) on the lab's MQTT address. Endpoint: `mqtt`. */
export function mosquittoServer(opts: { host?: string; port?: number } = {}): LabServer {
  const host = opts.host ?? SERVER_IPS.mqtt
  const port = opts.port ?? 1883
  const host6 = bridge6Of(host)
  return {
    name: 'mosquitto',
    addresses: [host],
    addresses6: [host6],
    requires: [['mosquitto', 'mosquitto']],
    async start(ctx) {
      const conf = join(ctx.runDir, 'mosquitto.conf')
      writeFileSync(
        conf,
        [
          'allow_anonymous true',
          'persistence false',
          'log_dest stderr',
          `listener ${port} ${host}`,
          ...(ctx.ipv6 ? [`listener ${port} ${host6}`] : []),
          '',
        ].join('\n'),
        { mode: 0o644 },
      )
      const proc = await spawnServer({
        name: `mosquitto in ${ctx.ns}`,
        command: tool('ip'),
        args: ['netns', 'exec', ctx.ns, tool('mosquitto'), '-c', conf],
        ready: async () =>
          (await listening(ctx.ns, 'tcp', host, port)) &&
          (!ctx.ipv6 || (await listening(ctx.ns, 'tcp', `[${host6}]`, port))),
      })
      ctx.track(proc.pid, 'mosquitto')
      const url = (h: string) => `mqtt://${hostPort(h, port)}`
      return running('mosquitto', proc, {
        mqtt: { host, port, transport: 'tcp', extra: { url: url(host) } },
        ...(ctx.ipv6
          ? { mqtt6: { host: host6, port, transport: 'tcp', extra: { url: url(host6) } } }
          : {}),
      })
    },
  }
}

/**
 * The lab's own "seen" service (a lab agent in serve mode) on observers O1 and O2: it answers
 * every TCP connection and UDP datagram with `seen IP:PORT` — the address it came from. Runners
 * use it like a STUN binding (TCP too), with no dependency on any p2pd package.
 * Endpoints: `seen1`, `seen1b`, `seen2`, `seen2b` (O1/O2 × two ports); in a dual-stack lab
 * also `seen1v6` … `seen2bv6` on the observers' IPv6 twins.
 */
export function seenService(): LabServer {
  const [o1, o2] = OBSERVER_IPS
  const eps: Record<string, LabEndpoint> = {
    seen1: { host: o1, port: SEEN_PORTS[0], transport: 'udp+tcp' },
    seen1b: { host: o1, port: SEEN_PORTS[1], transport: 'udp+tcp' },
    seen2: { host: o2, port: SEEN_PORTS[0], transport: 'udp+tcp' },
    seen2b: { host: o2, port: SEEN_PORTS[1], transport: 'udp+tcp' },
  }
  const [o16, o26] = OBSERVER6_IPS as [string, string]
  const eps6: Record<string, LabEndpoint> = {
    seen1v6: { host: o16, port: SEEN_PORTS[0], transport: 'udp+tcp' },
    seen1bv6: { host: o16, port: SEEN_PORTS[1], transport: 'udp+tcp' },
    seen2v6: { host: o26, port: SEEN_PORTS[0], transport: 'udp+tcp' },
    seen2bv6: { host: o26, port: SEEN_PORTS[1], transport: 'udp+tcp' },
  }
  return {
    name: 'seen',
    addresses: [...OBSERVER_IPS],
    addresses6: [...OBSERVER6_IPS],
    async start(ctx) {
      const all = ctx.ipv6 ? { ...eps, ...eps6 } : eps
      const list = Object.values(all)
        .map((e) => hostPort(e.host, e.port))
        .join(',')
      const [node, ...rest] = nodeTsArgv(srcFile('agent.ts'), ['--serve', list])
      const proc = await spawnServer({
        name: `seen service in ${ctx.ns}`,
        command: tool('ip'),
        args: ['netns', 'exec', ctx.ns, node as string, ...rest],
        cwd: PACKAGE_DIR,
        ready: async () =>
          (await listening(ctx.ns, 'tcp', eps.seen2b!.host, eps.seen2b!.port)) &&
          (!ctx.ipv6 || (await listening(ctx.ns, 'tcp', `[${o26}]`, SEEN_PORTS[1]))),
        readyTimeoutMs: 20_000,
      })
      ctx.track(proc.pid, 'seen')
      return running('seen', proc, all)
    },
  }
}

/** The servers a lab starts unless told otherwise. */
export function defaultServers(): LabServer[] {
  return [seenService(), coturnServer(), mosquittoServer()]
}
