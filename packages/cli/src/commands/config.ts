import type { Io } from '../command.js'
import { resolveConfig } from '../config.js'
import { parseNodeArgs } from '../node-command.js'

/** `p2pd config`: prints the effective config as JSON, and where each key came from. */
export async function configCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags } = parseNodeArgs(argv, { 'show-secrets': { type: 'boolean' } }, 0)
  const { config, sources, file } = await resolveConfig(flags)
  const shown = flags['show-secrets']
    ? config
    : { ...config, turn: config.turn.map((t) => ({ ...t, password: '***' })) }
  io.out(JSON.stringify(shown, null, 2))
  io.err(`config file: ${file ?? 'none (looked for one in the config directory)'}`)
  io.err(
    `from: ${Object.entries(sources)
      .map(([k, s]) => `${k}=${s}`)
      .join(' ')}`,
  )
  return 0
}
