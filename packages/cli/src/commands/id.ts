import { legacyNodeId, loadOrCreateIdentity } from '@p2pd/identity'
import { UsageError } from '../args.js'

/** `p2pd id <keyfile>`: loads (or creates, mode 0600) a node key and prints its node ID. */
export async function idCommand(
  argv: readonly string[],
  out: (line: string) => void,
): Promise<void> {
  const file = argv[0]
  if (!file) throw new UsageError('id needs a key file path (created if missing)')
  const identity = await loadOrCreateIdentity(file)
  out(`node id         ${identity.nodeId}`)
  out(`legacy P2PD id  ${legacyNodeId(identity.nodeId)}`)
}
