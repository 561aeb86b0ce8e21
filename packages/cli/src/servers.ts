import { isIP } from 'node:net'
import { P2pdError } from '@p2pd/interface'
import { SntpServer } from '@p2pd/ntp'
import { StunServer } from '@p2pd/stun'
import { type PeerPolicy, TurnServer } from '@p2pd/turn'
import { type EmbeddedBroker, startBroker } from './broker.js'
import type { InfraPorts } from './infra-settings.js'
import { PlainStunServer } from './plain-stun.js'

/** What {@link startServers} runs. */
export interface ServerSettings {
  /** The IP every server binds (`0.0.0.0` / `::` for all, but not with `alternate`). */
  readonly host: string
  /** The host name or IP clients are told to use (default `host`). */
  readonly publicHost?: string
  /** A second IP of this machine: STUN then answers RFC 5780 behaviour discovery. */
  readonly alternate?: string
  /** The IP TURN relays from and reports (default: `host`, else `publicHost` when an IP). */
  readonly relayIp?: string
  readonly ports: InfraPorts
  readonly realm: string
  /** TURN long-term credentials, user → password; the first one goes into the snippet. */
  readonly users: Readonly<Record<string, string>>
  /** Which peers TURN relays to (default: public addresses only). */
  readonly peers?: PeerPolicy
}

/** A p2pd client config file pointing at the servers (what `p2pd infra` prints). */
export interface ClientSnippet {
  readonly brokers: string[]
  readonly stun: { classify: string[]; tcp: string[]; udp: string[] }
  readonly ntp: string[]
  readonly turn: Array<{ host: string; port: number; username: string; password: string }>
}

/** The running servers. */
export interface RunningServers {
  readonly broker: EmbeddedBroker
  readonly stun: StunServer | PlainStunServer
  readonly sntp: SntpServer
  readonly turn: TurnServer
  /** The bound ports (as asked, or the ones picked for 0). */
  readonly ports: InfraPorts
  readonly snippet: ClientSnippet
  describe(): string[]
  close(): Promise<void>
}

/** A server could not bind: which port, and what to do about it. */
export class BindError extends P2pdError {
  constructor(message: string, cause: unknown) {
    super('CLI_BIND', message, { cause })
  }
}

const isWildcard = (h: string) => h === '0.0.0.0' || h === '::'
const hostPort = (h: string, p: number) => (isIP(h) === 6 ? `[${h}]:${p}` : `${h}:${p}`)

function sysError(err: unknown): NodeJS.ErrnoException | undefined {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as never) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e as NodeJS.ErrnoException
  }
  return undefined
}

/** Turns a bind failure into a message that names the port and the fix. */
function bindFailure(what: string, flag: string, host: string, port: number, err: unknown) {
  const sys = sysError(err) as
    | (NodeJS.ErrnoException & { port?: number; address?: string })
    | undefined
  const p = sys?.port ?? port
  // STUN binds two IPs: name the one that failed.
  if (sys?.address) host = sys.address
  const at = `${what} ${hostPort(host, p)}`
  switch (sys?.code) {
    case 'EADDRINUSE':
      return new BindError(
        `${at}: port ${p} is already in use; stop what listens there (\`ss -tulpn | grep :${p}\`) or choose another port with ${flag}`,
        err,
      )
    case 'EACCES':
      return new BindError(
        `${at}: binding port ${p} needs privileges; run as root or with CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE), or choose a port above 1023 with ${flag}`,
        err,
      )
    case 'EADDRNOTAVAIL':
      return new BindError(
        `${at}: ${host} is not an address of this machine; check --host and --alternate`,
        err,
      )
    default:
      return new BindError(`${at}: ${(err as Error)?.message ?? String(err)}`, err)
  }
}

/**
 * Starts the MQTT broker (aedes), STUN (UDP and TCP; RFC 5780 on `host` + `alternate`, else a
 * plain binding server), SNTP and TURN, one after the other; on any failure closes what
 * started and throws a {@link BindError} naming the port. Resolves once every one listens.
 */
export async function startServers(
  s: ServerSettings,
  options: { signal?: AbortSignal } = {},
): Promise<RunningServers> {
  const publicHost = s.publicHost ?? s.host
  const relayIp = s.relayIp ?? (isWildcard(s.host) ? publicHost : s.host)
  if (isIP(relayIp) === 0 || isWildcard(relayIp)) {
    throw new BindError(
      `TURN needs the IP it relays from: --host is ${s.host} and --public-host ${publicHost} is not an IP; give --relay-ip`,
      undefined,
    )
  }
  const [first] = Object.entries(s.users)
  if (!first) throw new BindError('TURN needs at least one user (--turn-user USER:PASS)', undefined)
  const closers: Array<() => Promise<unknown>> = []
  const step = async <T>(
    what: string,
    flag: string,
    port: number,
    start: () => Promise<T>,
    host = s.host,
  ): Promise<T> => {
    try {
      return await start()
    } catch (err) {
      await Promise.allSettled(closers.reverse().map((c) => c()))
      throw bindFailure(what, flag, host, port, err)
    }
  }
  const broker = await step('MQTT broker', '--mqtt-port', s.ports.mqtt, () =>
    startBroker(s.host, s.ports.mqtt),
  )
  closers.push(() => broker.close())
  const stun = s.alternate
    ? new StunServer({
        primaryHost: s.host,
        alternateHost: s.alternate,
        primaryPort: s.ports.stun,
        alternatePort: s.ports.stun === 0 ? 0 : s.ports.stunAlt,
      })
    : new PlainStunServer({ host: s.host, port: s.ports.stun })
  await step('STUN', '--stun-port (or --stun-alt-port)', s.ports.stun, () =>
    stun instanceof StunServer ? stun.start(options) : stun.start(),
  )
  closers.push(() => stun.close())
  const sntp = new SntpServer({ host: s.host, port: s.ports.ntp })
  const ntp = await step('SNTP', '--ntp-port', s.ports.ntp, () => sntp.start())
  closers.push(() => sntp.close())
  const turn = new TurnServer({
    host: s.host,
    port: s.ports.turn,
    relayHost: relayIp,
    realm: s.realm,
    users: { ...s.users },
    ...s.peers,
  })
  const turnAt = await step('TURN', '--turn-port', s.ports.turn, () => turn.start(options))
  closers.push(() => turn.close())

  const stunPort = stun.primary.port
  const ports: InfraPorts = {
    mqtt: broker.port,
    stun: stunPort,
    stunAlt: stun instanceof StunServer ? (stun.ports[1] ?? 0) : 0,
    ntp: ntp.port,
    turn: turnAt.port,
  }
  const stunAt = hostPort(publicHost, stunPort)
  const snippet: ClientSnippet = {
    brokers: [`mqtt://${hostPort(publicHost, ports.mqtt)}`],
    stun: { classify: s.alternate ? [stunAt] : [], tcp: [stunAt], udp: [stunAt] },
    ntp: [hostPort(publicHost, ports.ntp)],
    turn: [{ host: publicHost, port: ports.turn, username: first[0], password: first[1] }],
  }
  const users = Object.keys(s.users)
  return {
    broker,
    stun,
    sntp,
    turn,
    ports,
    snippet,
    describe: () => [
      `MQTT broker (aedes)  ${hostPort(s.host, ports.mqtt)}`,
      stun instanceof StunServer
        ? `STUN (RFC 5780)      ${hostPort(s.host, ports.stun)} + ${hostPort(stun.other.host, ports.stunAlt)}, UDP and TCP`
        : `STUN (binding only)  ${hostPort(s.host, ports.stun)}, UDP and TCP (no --alternate: no NAT classification)`,
      `SNTP                 ${hostPort(s.host, ports.ntp)}`,
      `TURN                 ${hostPort(s.host, ports.turn)} UDP and TCP, relays from ${relayIp}, realm ${s.realm}, ${users.length} user(s): ${users.join(', ')}`,
    ],
    close: async () => {
      await Promise.allSettled(closers.reverse().map((c) => c()))
    },
  }
}
