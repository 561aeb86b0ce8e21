import { AttrType, attr, type StunAddress, type StunAttribute } from '@p2pd/stun'
import { TurnError } from '../errors.js'

/**
 * REQUESTED-ADDRESS-FAMILY for an Allocate asking for `family`; nothing when the caller did not
 * choose (the server then relays over IPv4).
 */
export function requestedFamily(family: 4 | 6 | undefined): StunAttribute[] {
  if (family === undefined) return []
  const value = Buffer.alloc(4)
  value[0] = family === 4 ? 0x01 : 0x02
  return [attr.raw(AttrType.RequestedAddressFamily, value)]
}

/** Throws `TURN_BAD_RESPONSE` when the server relayed in another family than we asked for. */
export function checkRelayedFamily(relayed: StunAddress, family: 4 | 6 | undefined): void {
  if (family === undefined || relayed.family === family) return
  throw new TurnError(
    'TURN_BAD_RESPONSE',
    `asked for an IPv${family} relay, the server gave ${relayed.host} (IPv${relayed.family})`,
  )
}
