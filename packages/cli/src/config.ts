import { readFile } from 'node:fs/promises'
import { isBrokerUrl } from '@p2pd/signal-mqtt'
import type { TurnServerConfig } from '@p2pd/turn'
import { type Flags, intFlag, type OptionSpecs, UsageError } from './args.js'
import {
  DEFAULT_BROKER_URLS,
  DEFAULT_NTP,
  DEFAULT_STUN_CLASSIFY,
  DEFAULT_STUN_TCP,
  DEFAULT_STUN_UDP,
} from './defaults.js'
import { parseInfraFile } from './infra-settings.js'
import { defaultConfigPath, defaultKeyPath } from './paths.js'

/** What a node-running command uses; see `p2pd config --help` for the file format. */
export interface P2pdConfig {
  readonly key: string
  readonly brokers: readonly string[]
  readonly stun: {
    readonly classify: readonly string[]
    readonly tcp: readonly string[]
    readonly udp: readonly string[]
  }
  readonly ntp: readonly string[]
  readonly turn: readonly TurnServerConfig[]
  readonly interfaces: 'discover' | 'loopback'
  readonly listenPort: number
  readonly timeoutMs: number
}

export type ConfigKey = keyof P2pdConfig
export type Source = 'flag' | 'env' | 'file' | 'default'

/** The flags every node-running command accepts (see the help's "node options"). */
export const NODE_FLAGS: OptionSpecs = {
  key: { type: 'string' },
  config: { type: 'string' },
  broker: { type: 'string', multiple: true },
  stun: { type: 'string', multiple: true },
  ntp: { type: 'string', multiple: true },
  turn: { type: 'string', multiple: true },
  interfaces: { type: 'string' },
  'listen-port': { type: 'string' },
  timeout: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
}

/** A config file, environment or flag value that cannot be used. */
export class ConfigError extends UsageError {}

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/
const HOST_OPT_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+)(:\d{1,5})?$/

function checkAll(items: readonly string[], ok: (s: string) => boolean, what: string) {
  for (const s of items) if (!ok(s)) throw new ConfigError(`${what}: '${s}' is not valid`)
  return items
}

/** `USER:PASS@HOST:PORT` → a TURN server with long-term credentials. */
export function parseTurn(text: string): TurnServerConfig {
  const at = text.lastIndexOf('@')
  const colon = text.indexOf(':')
  const hp = HOST_PORT.exec(text.slice(at + 1))
  if (at < 0 || colon < 1 || colon > at || !hp) {
    throw new ConfigError(
      `--turn takes USER:PASS@HOST:PORT, not '${text.replace(/:.*@/, ':***@')}'`,
    )
  }
  return {
    host: (hp[1] as string).replace(/^\[|\]$/g, ''),
    port: Number(hp[2]),
    username: text.slice(0, colon),
    password: text.slice(colon + 1, at),
  }
}

function fileTurn(v: unknown): TurnServerConfig {
  const t = v as Partial<TurnServerConfig> | null
  if (
    typeof t?.host !== 'string' ||
    typeof t.username !== 'string' ||
    typeof t.password !== 'string' ||
    (t.port !== undefined && (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535))
  ) {
    throw new ConfigError(
      'config "turn": each entry needs host, username, password (port optional)',
    )
  }
  return { host: t.host, port: t.port ?? 3478, username: t.username, password: t.password }
}

const strings = (v: unknown, what: string): string[] => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw new ConfigError(`config "${what}" must be a list of strings`)
  }
  return v as string[]
}

/** Reads the config file: JSON, every key optional, unknown keys refused (typos show). */
export async function readConfigFile(
  path: string,
  required: boolean,
): Promise<Partial<Record<ConfigKey | 'infra', unknown>>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`)
  }
  const known = new Set<string>([
    'key',
    'brokers',
    'stun',
    'ntp',
    'turn',
    'interfaces',
    'listenPort',
    'timeoutMs',
    'infra',
  ])
  for (const k of Object.keys(json)) {
    if (!known.has(k)) throw new ConfigError(`config file ${path}: unknown key "${k}"`)
  }
  // Only `p2pd infra` uses it, but a typo in it should show wherever the file is read.
  const infra = (json as Record<string, unknown>).infra
  if (infra !== undefined) parseInfraFile(infra, path)
  return json as Partial<Record<ConfigKey | 'infra', unknown>>
}

/** The effective config and where each part came from. */
export interface ResolvedConfig {
  readonly config: P2pdConfig
  readonly sources: Record<ConfigKey, Source>
  readonly file?: string
}

/**
 * Resolves the config: flags > environment > config file > built-in defaults, key by key.
 * A `--stun` flag (or `P2PD_STUN`) replaces all three STUN lists.
 */
export async function resolveConfig(
  flags: Flags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedConfig> {
  const explicitFile = (flags.config as string | undefined) ?? env.P2PD_CONFIG
  const path = explicitFile || defaultConfigPath(env)
  const file = await readConfigFile(path, explicitFile !== undefined && explicitFile !== '')
  const sources = {} as Record<ConfigKey, Source>
  const pick = <T>(
    key: ConfigKey,
    fromFlag: T | undefined,
    fromEnv: T | undefined,
    fromFile: () => T | undefined,
    fallback: T,
  ): T => {
    const layers: Array<[Source, T | undefined]> = [
      ['flag', fromFlag],
      ['env', fromEnv],
      ['file', file[key] === undefined ? undefined : fromFile()],
    ]
    for (const [source, v] of layers) {
      if (v !== undefined) {
        sources[key] = source
        return v
      }
    }
    sources[key] = 'default'
    return fallback
  }
  const flagList = (name: string) => flags[name] as string[] | undefined

  const key = pick(
    'key',
    flags.key as string | undefined,
    env.P2PD_KEY || undefined,
    () => {
      if (typeof file.key !== 'string') throw new ConfigError('config "key" must be a path')
      return file.key
    },
    defaultKeyPath(env),
  )
  const brokers = checkAll(
    pick(
      'brokers',
      flagList('broker'),
      list(env.P2PD_BROKERS),
      () => strings(file.brokers, 'brokers'),
      DEFAULT_BROKER_URLS,
    ),
    isBrokerUrl,
    'broker (mqtt://, mqtts://, ws:// or wss:// URL)',
  )
  const stunFlag = flagList('stun') ?? list(env.P2PD_STUN)
  const stunFromFlag = flagList('stun')
  const stunAll = (l: readonly string[] | undefined) =>
    l ? { classify: l, tcp: l, udp: l } : undefined
  const stun = pick(
    'stun',
    stunAll(stunFromFlag),
    stunFromFlag ? undefined : stunAll(stunFlag),
    () => {
      const s = file.stun as Record<string, unknown> | null
      if (typeof s !== 'object' || s === null) {
        throw new ConfigError('config "stun" must be { "classify": […], "tcp": […], "udp": […] }')
      }
      for (const k of Object.keys(s)) {
        if (!['classify', 'tcp', 'udp'].includes(k)) {
          throw new ConfigError(`config "stun": unknown key "${k}" (classify, tcp, udp)`)
        }
      }
      const get = (k: string, d: readonly string[]) =>
        s[k] === undefined ? d : strings(s[k], `stun.${k}`)
      return {
        classify: get('classify', DEFAULT_STUN_CLASSIFY),
        tcp: get('tcp', DEFAULT_STUN_TCP),
        udp: get('udp', DEFAULT_STUN_UDP),
      }
    },
    { classify: DEFAULT_STUN_CLASSIFY, tcp: DEFAULT_STUN_TCP, udp: DEFAULT_STUN_UDP },
  )
  for (const l of [stun.classify, stun.tcp, stun.udp]) {
    checkAll(l, (s) => HOST_PORT.test(s), 'STUN server (HOST:PORT)')
  }
  const ntp = checkAll(
    pick('ntp', flagList('ntp'), list(env.P2PD_NTP), () => strings(file.ntp, 'ntp'), DEFAULT_NTP),
    (s) => HOST_OPT_PORT.test(s),
    'NTP server (HOST[:PORT])',
  )
  const turn = pick(
    'turn',
    flagList('turn')?.map(parseTurn),
    list(env.P2PD_TURN)?.map(parseTurn),
    () => {
      if (!Array.isArray(file.turn)) throw new ConfigError('config "turn" must be a list')
      return file.turn.map(fileTurn)
    },
    [] as TurnServerConfig[],
  )
  const interfaces = pick<string>(
    'interfaces',
    flags.interfaces as string | undefined,
    env.P2PD_INTERFACES || undefined,
    () => String(file.interfaces),
    'discover',
  )
  if (interfaces !== 'discover' && interfaces !== 'loopback') {
    throw new ConfigError(`interfaces must be discover or loopback, not '${interfaces}'`)
  }
  const fileInt = (k: 'listenPort' | 'timeoutMs', max: number) => () => {
    const v = file[k]
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) {
      throw new ConfigError(`config "${k}" must be a whole number 0–${max}`)
    }
    return v as number
  }
  const listenPort = pick(
    'listenPort',
    flags['listen-port'] === undefined
      ? undefined
      : intFlag(flags, 'listen-port', 0, { min: 0, max: 65535 }),
    undefined,
    fileInt('listenPort', 65535),
    0,
  )
  const timeoutMs = pick(
    'timeoutMs',
    flags.timeout === undefined ? undefined : intFlag(flags, 'timeout', 0, { min: 1 }),
    undefined,
    fileInt('timeoutMs', 600_000),
    30_000,
  )
  return {
    config: { key, brokers, stun, ntp, turn, interfaces, listenPort, timeoutMs },
    sources,
    ...(Object.keys(file).length > 0 || explicitFile ? { file: path } : {}),
  }
}
