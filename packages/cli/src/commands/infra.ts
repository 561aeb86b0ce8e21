import { writeFile } from 'node:fs/promises'
import { parseFlags } from '../args.js'
import type { Io } from '../command.js'
import { readConfigFile } from '../config.js'
import {
  INFRA_FLAGS,
  type InfraFileSettings,
  parseInfraFile,
  resolveInfraSettings,
} from '../infra-settings.js'
import { startServers } from '../servers.js'
import { interrupted } from '../signals.js'

/**
 * `p2pd infra`: runs the MQTT broker, STUN, SNTP and TURN for a team's own deployment. Once
 * every server listens it prints a client config file (JSON, one document) on stdout and
 * `p2pd infra: ready` on stderr; on SIGINT/SIGTERM it closes every server and resolves to 0.
 */
export async function infraCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags } = parseFlags(argv, INFRA_FLAGS, { max: 0 })
  let file: InfraFileSettings = {}
  if (typeof flags.config === 'string') {
    const json = await readConfigFile(flags.config, true)
    if (json.infra !== undefined) file = parseInfraFile(json.infra, flags.config)
  }
  const run = resolveInfraSettings(flags, file)
  // Listen for signals before binding: a SIGTERM during start must still close everything.
  const stop = interrupted()
  try {
    const servers = await startServers(run.settings, { signal: stop.signal })
    try {
      if (!stop.signal.aborted) {
        const json = JSON.stringify(servers.snippet, null, 2)
        if (run.snippetFile) await writeFile(run.snippetFile, `${json}\n`, { mode: 0o600 })
        for (const line of servers.describe()) io.err(`  ${line}`)
        if (run.madeUpUser) {
          io.err(
            `p2pd infra: warning: no TURN user configured; made up '${run.madeUpUser}' with a random password for this run only (--turn-user USER:PASS or "users" in the config keeps one)`,
          )
        }
        io.out(json)
        io.err(
          `p2pd infra: ready — clients use the JSON above as their config file (p2pd listen --config FILE)${run.snippetFile ? `, also written to ${run.snippetFile}` : ''}; Ctrl-C or SIGTERM stops`,
        )
        await new Promise((resolve) => {
          if (stop.signal.aborted) resolve(undefined)
          else stop.signal.addEventListener('abort', resolve, { once: true })
        })
      }
      io.err('p2pd infra: stopping')
    } finally {
      await servers.close()
    }
    io.err('p2pd infra: stopped')
    return 0
  } finally {
    stop.dispose()
  }
}
