import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { type Flags, intFlag, type OptionSpecs, UsageError } from './args.js'
import type { ServerSettings } from './servers.js'

/** The ports of the servers; 0 means any free port (tests). */
export interface InfraPorts {
  readonly mqtt: number
  /** STUN's primary port, UDP and TCP. */
  readonly stun: number
  /** STUN's second port for RFC 5780 (only with an alternate IP). */
  readonly stunAlt: number
  readonly ntp: number
  readonly turn: number
}

/** The well-known ports, except TURN: STUN's RFC 5780 pair takes 3478 and 3479. */
export const DEFAULT_INFRA_PORTS: InfraPorts = {
  mqtt: 1883,
  stun: 3478,
  stunAlt: 3479,
  ntp: 123,
  turn: 3480,
}

/** The flags of `p2pd infra` (see its help). */
export const INFRA_FLAGS: OptionSpecs = {
  config: { type: 'string' },
  host: { type: 'string' },
  'public-host': { type: 'string' },
  alternate: { type: 'string' },
  'relay-ip': { type: 'string' },
  'mqtt-port': { type: 'string' },
  'stun-port': { type: 'string' },
  'stun-alt-port': { type: 'string' },
  'ntp-port': { type: 'string' },
  'turn-port': { type: 'string' },
  'turn-user': { type: 'string', multiple: true },
  realm: { type: 'string' },
  'allow-loopback-peers': { type: 'boolean' },
  'allow-private-peers': { type: 'boolean' },
  'allow-peer-range': { type: 'string', multiple: true },
  snippet: { type: 'string' },
}

/** The `"infra"` object of a config file, checked. */
export interface InfraFileSettings {
  readonly host?: string
  readonly publicHost?: string
  readonly alternate?: string
  readonly relayIp?: string
  readonly ports?: Partial<InfraPorts>
  readonly realm?: string
  readonly users?: Readonly<Record<string, string>>
  readonly allowPrivatePeers?: boolean
  readonly allowPeerRanges?: readonly string[]
  readonly snippet?: string
}

const KEYS = new Set([
  'host',
  'publicHost',
  'alternate',
  'relayIp',
  'ports',
  'realm',
  'users',
  'allowPrivatePeers',
  'allowPeerRanges',
  'snippet',
])
const PORT_KEYS = new Set(['mqtt', 'stun', 'stunAlt', 'ntp', 'turn'])
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/
const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/

const isWildcard = (h: string) => h === '0.0.0.0' || h === '::'

/**
 * Checks a config file's `"infra"` value: an object with only the known keys, each of the
 * right type. Throws a {@link UsageError} naming the key.
 */
export function parseInfraFile(value: unknown, path: string): InfraFileSettings {
  const bad = (what: string) => new UsageError(`config file ${path}: "infra"${what}`)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(' must be an object')
  }
  const v = value as Record<string, unknown>
  for (const k of Object.keys(v)) {
    if (!KEYS.has(k)) throw bad(`: unknown key "${k}" (${[...KEYS].join(', ')})`)
  }
  for (const k of ['host', 'publicHost', 'alternate', 'relayIp', 'realm', 'snippet']) {
    if (v[k] !== undefined && (typeof v[k] !== 'string' || v[k] === '')) {
      throw bad(`.${k} must be a non-empty string`)
    }
  }
  if (v.ports !== undefined) {
    const p = v.ports as Record<string, unknown>
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw bad('.ports must be an object')
    for (const [k, n] of Object.entries(p)) {
      if (!PORT_KEYS.has(k)) throw bad(`.ports: unknown key "${k}" (${[...PORT_KEYS].join(', ')})`)
      if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > 65535) {
        throw bad(`.ports.${k} must be a whole number 0–65535`)
      }
    }
  }
  if (v.users !== undefined) {
    const u = v.users as Record<string, unknown>
    if (typeof u !== 'object' || u === null || Array.isArray(u)) {
      throw bad('.users must be an object { "user": "password" }')
    }
    for (const [name, pass] of Object.entries(u)) {
      if (name === '' || name.includes(':') || typeof pass !== 'string' || pass === '') {
        throw bad(`.users: "${name}" needs a non-empty password (and a name without ":")`)
      }
    }
  }
  if (v.allowPrivatePeers !== undefined && typeof v.allowPrivatePeers !== 'boolean') {
    throw bad('.allowPrivatePeers must be true or false')
  }
  if (v.allowPeerRanges !== undefined) {
    const r = v.allowPeerRanges
    if (!Array.isArray(r) || r.some((x) => typeof x !== 'string' || !CIDR.test(x))) {
      throw bad('.allowPeerRanges must be a list of CIDR ranges ("198.18.0.0/15")')
    }
  }
  return v as InfraFileSettings
}

/** What `p2pd infra` runs, plus where to write the snippet and whether a user was made up. */
export interface InfraRun {
  readonly settings: ServerSettings
  readonly snippetFile?: string
  /** Set when no TURN user was configured and one was generated for this run. */
  readonly madeUpUser?: string
}

function turnUser(text: string): [string, string] {
  const colon = text.indexOf(':')
  if (colon < 1 || colon === text.length - 1) {
    throw new UsageError(`--turn-user takes USER:PASS, not '${text.replace(/:.*/, ':***')}'`)
  }
  return [text.slice(0, colon), text.slice(colon + 1)]
}

/** Merges flags over the config file's `"infra"` over the defaults, and checks the result. */
export function resolveInfraSettings(flags: Flags, file: InfraFileSettings = {}): InfraRun {
  const str = (flag: string, fromFile: string | undefined) =>
    (flags[flag] as string | undefined) ?? fromFile
  const host = str('host', file.host)
  if (host === undefined) {
    throw new UsageError(
      'infra needs --host IP: the address to listen on (0.0.0.0 for every address, then with --public-host)',
    )
  }
  if (isIP(host) === 0) throw new UsageError(`--host must be an IP address, not '${host}'`)
  const publicHost = str('public-host', file.publicHost)
  if (publicHost !== undefined && isIP(publicHost) === 0 && !HOST_NAME.test(publicHost)) {
    throw new UsageError(`--public-host must be a host name or IP, not '${publicHost}'`)
  }
  if (isWildcard(host) && publicHost === undefined) {
    throw new UsageError(
      `with --host ${host}, give --public-host: the address clients reach this machine at`,
    )
  }
  const alternate = str('alternate', file.alternate)
  if (alternate !== undefined) {
    if (isIP(alternate) === 0 || isWildcard(alternate)) {
      throw new UsageError(`--alternate must be a second IP of this machine, not '${alternate}'`)
    }
    if (isWildcard(host)) {
      throw new UsageError('--alternate needs --host to be an IP of this machine (not a wildcard)')
    }
    if (isIP(alternate) !== isIP(host) || alternate === host) {
      throw new UsageError('--alternate must be another IP of the same family as --host')
    }
  }
  const relayIp = str('relay-ip', file.relayIp)
  if (relayIp !== undefined && (isIP(relayIp) === 0 || isWildcard(relayIp))) {
    throw new UsageError(`--relay-ip must be an IP of this machine, not '${relayIp}'`)
  }
  if (relayIp === undefined && isWildcard(host) && isIP(publicHost ?? '') === 0) {
    throw new UsageError(
      `with --host ${host} and a host name as --public-host, give --relay-ip: the IP TURN relays from`,
    )
  }
  const port = (flag: string, key: keyof InfraPorts, fallback: number) =>
    intFlag(flags, flag, file.ports?.[key] ?? fallback, { min: 0, max: 65535 })
  const stun = port('stun-port', 'stun', DEFAULT_INFRA_PORTS.stun)
  const ports: InfraPorts = {
    mqtt: port('mqtt-port', 'mqtt', DEFAULT_INFRA_PORTS.mqtt),
    stun,
    stunAlt: port('stun-alt-port', 'stunAlt', stun === 0 ? 0 : stun + 1),
    ntp: port('ntp-port', 'ntp', DEFAULT_INFRA_PORTS.ntp),
    turn: port('turn-port', 'turn', DEFAULT_INFRA_PORTS.turn),
  }
  if (alternate !== undefined && stun !== 0 && (ports.stunAlt === 0 || ports.stunAlt > 65535)) {
    throw new UsageError('--stun-alt-port must be a port 1–65535 other than --stun-port')
  }
  const clash = (list: Array<[string, number]>) => {
    const seen = new Map<number, string>()
    for (const [name, p] of list) {
      if (p === 0) continue
      const other = seen.get(p)
      if (other) throw new UsageError(`${name} and ${other} are both ${p}: give each its own port`)
      seen.set(p, name)
    }
  }
  const stunPorts: Array<[string, number]> = alternate
    ? [
        ['--stun-port', ports.stun],
        ['--stun-alt-port', ports.stunAlt],
      ]
    : [['--stun-port', ports.stun]]
  clash([['--mqtt-port', ports.mqtt], ...stunPorts])
  clash([...stunPorts, ['--ntp-port', ports.ntp], ['--turn-port', ports.turn]])

  const flagUsers = (flags['turn-user'] as string[] | undefined)?.map(turnUser)
  let users: Record<string, string> = flagUsers
    ? Object.fromEntries(flagUsers)
    : { ...(file.users ?? {}) }
  let madeUpUser: string | undefined
  if (Object.keys(users).length === 0) {
    madeUpUser = 'p2pd'
    users = { p2pd: randomBytes(12).toString('hex') }
  }
  const realm = str('realm', file.realm) ?? 'p2pd'
  if (realm === '' || realm.length > 127) {
    throw new UsageError('--realm must be 1–127 characters')
  }
  const ranges = (flags['allow-peer-range'] as string[] | undefined) ?? file.allowPeerRanges
  for (const r of ranges ?? []) {
    if (!CIDR.test(r)) throw new UsageError(`--allow-peer-range takes a CIDR range, not '${r}'`)
  }
  const snippetFile = str('snippet', file.snippet)
  return {
    settings: {
      host,
      ...(publicHost !== undefined ? { publicHost } : {}),
      ...(alternate !== undefined ? { alternate } : {}),
      ...(relayIp !== undefined ? { relayIp } : {}),
      ports,
      realm,
      users,
      peers: {
        allowLoopbackPeers: flags['allow-loopback-peers'] === true,
        allowPrivatePeers: flags['allow-private-peers'] === true || file.allowPrivatePeers === true,
        ...(ranges ? { allowPeerRanges: ranges } : {}),
      },
    },
    ...(snippetFile !== undefined ? { snippetFile } : {}),
    ...(madeUpUser !== undefined ? { madeUpUser } : {}),
  }
}
