import type { StunAttribute, StunMessage } from '../codec/message.js'
import { AttrType } from '../constants.js'
import { decodeAddress, decodeXorAddress, type StunAddress } from './address.js'
import {
  type ChangeRequest,
  decodeChangeRequest,
  decodeErrorCode,
  decodeResponsePort,
  decodeText,
  decodeUnknownAttributes,
  type ErrorCodeValue,
  MAX_TEXT_BYTES,
  MAX_USERNAME_BYTES,
} from './values.js'

/** The attributes of a message this package understands, decoded; first occurrence wins. */
export interface StunAttributes {
  readonly mappedAddress?: StunAddress
  /** From XOR-MAPPED-ADDRESS (or, absent that, the pre-RFC 0x8020 variant). */
  readonly xorMappedAddress?: StunAddress
  readonly otherAddress?: StunAddress
  readonly responseOrigin?: StunAddress
  /** RFC 3489 CHANGED-ADDRESS (what OTHER-ADDRESS replaced). */
  readonly changedAddress?: StunAddress
  /** RFC 3489 SOURCE-ADDRESS (what RESPONSE-ORIGIN replaced). */
  readonly sourceAddress?: StunAddress
  readonly alternateServer?: StunAddress
  readonly changeRequest?: ChangeRequest
  readonly responsePort?: number
  /** Length of the PADDING attribute. */
  readonly padding?: number
  readonly errorCode?: ErrorCodeValue
  readonly unknownAttributes?: readonly number[]
  readonly software?: string
  readonly username?: string
  readonly realm?: string
  readonly nonce?: string
  /**
   * Attributes not listed above (TURN, ICE, integrity, fingerprint, 0x8020, unknown), in order.
   */
  readonly others: readonly StunAttribute[]
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * Decodes the attributes this package knows. Throws only `StunError` (`STUN_BAD_ATTRIBUTE`)
 * when a known attribute is malformed.
 */
export function readAttributes(msg: StunMessage): StunAttributes {
  const out: Mutable<StunAttributes> = { others: [] }
  const others: StunAttribute[] = []
  let oldXor: StunAttribute | undefined
  for (const a of msg.attributes) {
    switch (a.type) {
      case AttrType.MappedAddress:
        out.mappedAddress ??= decodeAddress(a.value)
        break
      case AttrType.XorMappedAddress:
        out.xorMappedAddress ??= decodeXorAddress(a.value, msg.transactionId)
        break
      case AttrType.XorMappedAddressOld:
        oldXor ??= a
        others.push(a)
        break
      case AttrType.OtherAddress:
        out.otherAddress ??= decodeAddress(a.value)
        break
      case AttrType.ResponseOrigin:
        out.responseOrigin ??= decodeAddress(a.value)
        break
      case AttrType.ChangedAddress:
        out.changedAddress ??= decodeAddress(a.value)
        break
      case AttrType.SourceAddress:
        out.sourceAddress ??= decodeAddress(a.value)
        break
      case AttrType.AlternateServer:
        out.alternateServer ??= decodeAddress(a.value)
        break
      case AttrType.ChangeRequest:
        out.changeRequest ??= decodeChangeRequest(a.value)
        break
      case AttrType.ResponsePort:
        out.responsePort ??= decodeResponsePort(a.value)
        break
      case AttrType.Padding:
        out.padding ??= a.value.length
        break
      case AttrType.ErrorCode:
        out.errorCode ??= decodeErrorCode(a.value)
        break
      case AttrType.UnknownAttributes:
        out.unknownAttributes ??= decodeUnknownAttributes(a.value)
        break
      case AttrType.Software:
        out.software ??= decodeText(a.value, MAX_TEXT_BYTES)
        break
      case AttrType.Username:
        out.username ??= decodeText(a.value, MAX_USERNAME_BYTES)
        break
      case AttrType.Realm:
        out.realm ??= decodeText(a.value, MAX_TEXT_BYTES)
        break
      case AttrType.Nonce:
        out.nonce ??= decodeText(a.value, MAX_TEXT_BYTES)
        break
      default:
        others.push(a)
    }
  }
  if (!out.xorMappedAddress && oldXor) {
    out.xorMappedAddress = decodeXorAddress(oldXor.value, msg.transactionId)
  }
  out.others = others
  return out
}

/** The reflexive address a response reports: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS. */
export function reflexiveAddress(attrs: StunAttributes): StunAddress | undefined {
  return attrs.xorMappedAddress ?? attrs.mappedAddress
}
