import { decodePeerAddress } from '@p2pd/address'
import { deltaTypeName, natTypeName } from '@p2pd/interface'
import { parseFlags, UsageError } from '../args.js'

/** `p2pd addr <peer-address>`: decodes and explains a peer address. */
export function addrCommand(argv: readonly string[], out: (line: string) => void): void {
  const { positionals } = parseFlags(argv, {}, { max: 1 })
  const text = positionals[0]
  if (!text) throw new UsageError('addr needs a peer address (what `p2pd listen` prints)')
  const a = decodePeerAddress(text)
  out(`node id     ${a.nodeId}${a.legacy ? '  (legacy P2PD id: cannot be authenticated)' : ''}`)
  out(`machine id  ${a.machineId}`)
  out(`signal      ${a.signal.length ? a.signal.join(', ') : 'none'}`)
  for (const family of ['ip4', 'ip6'] as const) {
    for (const i of a[family]) {
      const nat = `${natTypeName[i.nat.type]}, delta ${deltaTypeName[i.nat.delta.type]} ${i.nat.delta.value}`
      out(`${family} #${i.ifIndex}      ext ${i.ext}  nic ${i.nic}  port ${i.port}  (${nat})`)
    }
  }
}
