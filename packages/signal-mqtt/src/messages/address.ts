import { addressText, guard, hex32, objectBody } from './fields.js'

/** Type tags of the "what is your current address?" exchange. */
export const ADDRESS_GET = 'address/get'
export const ADDRESS_RETURN = 'address/return'

/** Body of `address/get`: asks the peer for its current address (reply: `address/return`). */
export interface AddressGet {
  /** Request id (32 hex), echoed by the reply. */
  readonly id: string
  /** The requester's own address text, optional. */
  readonly address?: string
}

/** Body of `address/return`: the responder's current peer-address text. */
export interface AddressReturn {
  readonly id: string
  readonly address: string
}

/** Validates an `address/get` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseAddressGet(body: unknown): AddressGet {
  const o = objectBody(ADDRESS_GET, body)
  const id = hex32(ADDRESS_GET, 'id', o.id)
  return o.address === undefined
    ? { id }
    : { id, address: addressText(ADDRESS_GET, 'address', o.address) }
}

/** Validates an `address/return` body; throws `SignalMessageError` (`SIGNAL_MESSAGE_BODY`). */
export function parseAddressReturn(body: unknown): AddressReturn {
  const o = objectBody(ADDRESS_RETURN, body)
  return {
    id: hex32(ADDRESS_RETURN, 'id', o.id),
    address: addressText(ADDRESS_RETURN, 'address', o.address),
  }
}

export const isAddressGet = guard(parseAddressGet)
export const isAddressReturn = guard(parseAddressReturn)
