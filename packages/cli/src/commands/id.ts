import { legacyNodeId } from '@p2pd/identity'
import { parseFlags } from '../args.js'
import { defaultKeyPath, loadKey } from '../paths.js'

/** `p2pd id [keyfile]`: loads (or creates, mode 0600) a node key and prints its node ID. */
export async function idCommand(
  argv: readonly string[],
  out: (line: string) => void,
): Promise<void> {
  const { flags, positionals } = parseFlags(argv, { key: { type: 'string' } }, { max: 1 })
  const file = (flags.key as string | undefined) ?? positionals[0] ?? process.env.P2PD_KEY
  const path = file || defaultKeyPath()
  const identity = await loadKey(path)
  out(`node id         ${identity.nodeId}`)
  out(`legacy P2PD id  ${legacyNodeId(identity.nodeId)}`)
  out(`key file        ${path}`)
}
