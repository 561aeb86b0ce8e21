import type { PeerAddress } from '@p2pd/interface'
import { AddressError, show } from './errors.js'
import {
  array,
  checkFamily,
  checkMachineId,
  checkNodeId,
  checkSignal,
  type Family,
} from './validate.js'

/**
 * Encodes a peer address to its text form, `signal-ip4section-ip6section-nodeid-machineid`,
 * after checking it against the same rules {@link decodePeerAddress} applies.
 *
 * Output is canonical: IPv6 fully exploded lowercase with no zone id (compressed or zoned IPv6
 * in the model is accepted and normalised), `None` for no signal offsets, `0` for an empty
 * family. A negative delta value is written `~N` (`~5` is −5) because `-` separates the
 * sections; non-negative values are plain decimal, exactly as P2PD writes them.
 * `nat.range` is not part of the text format and is ignored.
 *
 * @param addr - the address; `legacy` must match what `nodeId` is
 * @returns the canonical text; decoding it gives `addr` back (normalised)
 * @throws {@link AddressError} when `addr` breaks any rule — never anything else
 */
export function encodePeerAddress(addr: PeerAddress): string {
  if (typeof addr !== 'object' || addr === null || Array.isArray(addr)) {
    throw new AddressError('ADDRESS_TYPE', 'address', `expected an object, got ${show(addr)}`)
  }
  const signal = checkSignal(array(addr.signal, 'signal'))
  const ip4 = encodeFamily(addr.ip4, 'ip4')
  const ip6 = encodeFamily(addr.ip6, 'ip6')
  const legacy = checkNodeId(addr.nodeId)
  if (addr.legacy !== legacy) {
    throw new AddressError(
      'ADDRESS_NODE_ID',
      'legacy',
      `is ${show(addr.legacy)} but node ID ${show(addr.nodeId)} is ${legacy ? 'a legacy id' : 'a public key'}`,
    )
  }
  const machineId = checkMachineId(addr.machineId)
  const signalText = signal.length === 0 ? 'None' : signal.join(',')
  return `${signalText}-${ip4}-${ip6}-${addr.nodeId}-${machineId}`
}

/**
 * A delta value's text. Negative values get a `~` prefix (`~5` is −5) because `-` separates
 * the sections; non-negative values are plain decimal, exactly as P2PD writes them. Older P2PD
 * nodes see `~5` as non-numeric and drop that one interface item — the safe outcome.
 */
function formatDelta(value: number): string {
  return value < 0 ? `~${-value}` : String(value)
}

function encodeFamily(value: unknown, family: Family): string {
  const checked = checkFamily(array(value, family), family)
  if (checked.length === 0) return '0'
  let out = ''
  for (const i of checked) {
    out +=
      `${out === '' ? '' : '|'}[${i.netifaceIndex},${i.ifIndex},${i.ext},${i.nic},${i.port},` +
      `${i.nat.type},${i.nat.delta.type},${formatDelta(i.nat.delta.value)}]`
  }
  return out
}
