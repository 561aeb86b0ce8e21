/**
 * @packageDocumentation
 * A strict codec for the P2PD peer-address text format:
 *
 * ```text
 * signal-ip4section-ip6section-nodeid-machineid
 * 0,1-[1,0,8.8.8.8,192.168.21.21,58959,3,2,0]-0-zmUGXPOFxUBuToh-easdasd
 * ```
 *
 * {@link decodePeerAddress} reads every address P2PD itself produces, and refuses — with an
 * {@link AddressError} carrying a precise `code` — everything P2PD would silently drop, clamp
 * or overwrite. {@link encodePeerAddress} applies the same rules and writes the canonical text,
 * so `encodePeerAddress(decodePeerAddress(s)) === s` for every canonical address.
 *
 * Negative delta values are written `~N` (`~5` is −5), since `-` separates the sections.
 *
 * @example
 * ```ts
 * import { AddressError, decodePeerAddress, encodePeerAddress } from '@p2pd/address'
 *
 * const addr = decodePeerAddress('0,1-[1,0,8.8.8.8,192.168.21.21,58959,3,2,0]-0-zmUGXPOFxUBuToh-easdasd')
 * console.log(addr.ip4[0]?.port, addr.legacy) // 58959 true
 * console.log(encodePeerAddress(addr)) // the same text
 *
 * try {
 *   decodePeerAddress('0-[1,0,8.8.8.8,10.0.0.1,70000,1,1,0]-0-n-m')
 * } catch (err) {
 *   if (err instanceof AddressError) console.log(err.code) // ADDRESS_PORT
 * }
 * ```
 */

export { decodePeerAddress, isPeerAddress } from './decode.js'
export { encodePeerAddress } from './encode.js'
export { AddressError, type AddressErrorCode } from './errors.js'
export {
  isMachineId,
  MAX_LEGACY_NODE_ID_LENGTH,
  MAX_MACHINE_ID_LENGTH,
  type NodeIdKind,
  nodeIdKind,
} from './ids.js'
export { type ParsedIp, parseIp } from './ip.js'
export {
  MAX_ADDRESS_LENGTH,
  MAX_DELTA,
  MAX_INTERFACE_INDEX,
  MAX_INTERFACES,
  MAX_SIGNAL_OFFSET,
  MAX_SIGNAL_OFFSETS,
} from './validate.js'
