import { legacyNodeId } from '@p2pd/identity'
import { parseFlags } from '../args.js'
import { resolveConfig } from '../config.js'
import { loadKey } from '../paths.js'

/**
 * `p2pd id [keyfile]`: loads (or creates, mode 0600) a node key and prints its node ID. The key
 * file is found as every node command finds it: `--key` (or the positional) > `P2PD_KEY` > the
 * config file's `"key"` > key.json in the config directory.
 */
export async function idCommand(
  argv: readonly string[],
  out: (line: string) => void,
): Promise<void> {
  const { flags, positionals } = parseFlags(
    argv,
    { key: { type: 'string' }, config: { type: 'string' } },
    { max: 1 },
  )
  const key = (flags.key as string | undefined) ?? positionals[0]
  const { config } = await resolveConfig({
    ...(key ? { key } : {}),
    ...(typeof flags.config === 'string' ? { config: flags.config } : {}),
  })
  const identity = await loadKey(config.key)
  out(`node id         ${identity.nodeId}`)
  out(`legacy P2PD id  ${legacyNodeId(identity.nodeId)}`)
  out(`key file        ${config.key}`)
}
