import { once } from 'node:events'
import { isIP } from 'node:net'
import { dirname, join } from 'node:path'
import { DEFAULT_DAEMON_PORT, loadOrCreateToken, startDaemon } from '@p2pd/daemon'
import { intFlag, UsageError } from '../args.js'
import { version } from '../cli.js'
import type { Io } from '../command.js'
import { resolveConfig } from '../config.js'
import { ALLOW_FLAG, parseNodeArgs, withNode } from '../node-command.js'

const FLAGS = {
  ...ALLOW_FLAG,
  port: { type: 'string' },
  host: { type: 'string' },
  'token-file': { type: 'string' },
  cors: { type: 'string', multiple: true },
  'allow-host': { type: 'string', multiple: true },
  listen: { type: 'boolean' },
} as const

/** An exact browser origin: scheme, host and optional port, nothing else. */
const ORIGIN = /^https?:\/\/[^\s/?#]+$/

/** A DNS name (no port), as `--allow-host` takes it. */
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/

/** Where the token lives unless --token-file says otherwise: beside the node's key. */
export function defaultTokenFile(keyPath: string): string {
  return join(dirname(keyPath), 'daemon-token')
}

/**
 * `p2pd daemon`: a node served as a REST + WebSocket API on 127.0.0.1:12333 until Ctrl-C. The
 * bearer token is read from the token file, created there (0600) on first run.
 */
export async function daemonCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags } = parseNodeArgs(argv, FLAGS, 0)
  const port = intFlag(flags, 'port', DEFAULT_DAEMON_PORT, { min: 0, max: 65535 })
  const host = (flags.host as string | undefined) ?? '127.0.0.1'
  const cors = (flags.cors as string[] | undefined) ?? []
  for (const o of cors) {
    if (!ORIGIN.test(o))
      throw new UsageError(`--cors takes an origin like http://localhost:5173, not '${o}'`)
  }
  const allowedHosts = (flags['allow-host'] as string[] | undefined) ?? []
  for (const h of allowedHosts) {
    if (!HOST_NAME.test(h) && !isIP(h))
      throw new UsageError(`--allow-host takes a host name like p2pd.internal, not '${h}'`)
  }
  if (flags.allow && !flags.listen) throw new UsageError('--allow needs --listen')
  const { config } = await resolveConfig(flags)
  const tokenFile = (flags['token-file'] as string | undefined) ?? defaultTokenFile(config.key)
  const token = await loadOrCreateToken(tokenFile)
  return withNode(flags, io, async ({ node, address }, signal) => {
    const daemon = await startDaemon({
      node,
      token,
      port,
      host,
      cors,
      allowedHosts,
      incoming: flags.listen === true,
      signal,
      version: version(),
    })
    if (!/^(127\.|::1$|localhost$)/.test(host)) {
      io.err(`p2pd daemon: warning: listening on ${host}: reachable beyond this machine`)
    }
    io.err(`address: ${address}`)
    io.err(`token file: ${tokenFile}`)
    io.err(`daemon: ${daemon.url} (API: GET ${daemon.url}/openapi.json)`)
    if (!signal.aborted) await once(signal, 'abort')
    await daemon.close()
    io.err('daemon stopped')
    return 0
  })
}
