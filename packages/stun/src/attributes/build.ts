import type { Endpoint } from '@p2pd/interface'
import type { StunAttribute } from '../codec/message.js'
import { AttrType } from '../constants.js'
import { encodeAddress, encodeXorAddress } from './address.js'
import {
  type ChangeRequest,
  encodeChangeRequest,
  encodeConnectionId,
  encodeErrorCode,
  encodeRequestedTransport,
  encodeResponsePort,
  encodeText,
  encodeUint32,
  encodeUnknownAttributes,
  MAX_TEXT_BYTES,
  MAX_USERNAME_BYTES,
} from './values.js'

/** Largest PADDING attribute {@link attr.padding} builds (a full Ethernet MTU). */
export const MAX_PADDING = 1500

/**
 * Attribute builders: each returns a `{ type, value }` ready for {@link createMessage}. The
 * generic ones (`address`, `xorAddress`, `text`, `uint32`, `raw`) cover TURN's attributes.
 */
export const attr = {
  raw: (type: number, value: Uint8Array): StunAttribute => ({ type, value }),
  address: (type: number, a: Endpoint): StunAttribute => ({ type, value: encodeAddress(a) }),
  xorAddress: (type: number, a: Endpoint, transactionId: Uint8Array): StunAttribute => ({
    type,
    value: encodeXorAddress(a, transactionId),
  }),
  text: (type: number, text: string, maxBytes = MAX_TEXT_BYTES): StunAttribute => ({
    type,
    value: encodeText(text, maxBytes),
  }),
  uint32: (type: number, value: number): StunAttribute => ({ type, value: encodeUint32(value) }),

  mappedAddress: (a: Endpoint) => attr.address(AttrType.MappedAddress, a),
  xorMappedAddress: (a: Endpoint, transactionId: Uint8Array) =>
    attr.xorAddress(AttrType.XorMappedAddress, a, transactionId),
  otherAddress: (a: Endpoint) => attr.address(AttrType.OtherAddress, a),
  responseOrigin: (a: Endpoint) => attr.address(AttrType.ResponseOrigin, a),
  changedAddress: (a: Endpoint) => attr.address(AttrType.ChangedAddress, a),
  sourceAddress: (a: Endpoint) => attr.address(AttrType.SourceAddress, a),
  alternateServer: (a: Endpoint) => attr.address(AttrType.AlternateServer, a),
  changeRequest: (req: ChangeRequest): StunAttribute => ({
    type: AttrType.ChangeRequest,
    value: encodeChangeRequest(req),
  }),
  responsePort: (port: number): StunAttribute => ({
    type: AttrType.ResponsePort,
    value: encodeResponsePort(port),
  }),
  /** PADDING of `length` zero bytes (RFC 5780 §7.6), at most {@link MAX_PADDING}. */
  padding: (length: number): StunAttribute => ({
    type: AttrType.Padding,
    value: Buffer.alloc(Math.max(0, Math.min(MAX_PADDING, Math.floor(length)))),
  }),
  errorCode: (code: number, reason: string): StunAttribute => ({
    type: AttrType.ErrorCode,
    value: encodeErrorCode({ code, reason }),
  }),
  unknownAttributes: (types: readonly number[]): StunAttribute => ({
    type: AttrType.UnknownAttributes,
    value: encodeUnknownAttributes(types),
  }),
  /** CONNECTION-ID (RFC 6062). */
  connectionId: (id: number): StunAttribute => ({
    type: AttrType.ConnectionId,
    value: encodeConnectionId(id),
  }),
  /** REQUESTED-TRANSPORT: 17 (UDP) or 6 (TCP, RFC 6062). */
  requestedTransport: (protocol: number): StunAttribute => ({
    type: AttrType.RequestedTransport,
    value: encodeRequestedTransport(protocol),
  }),
  software: (text: string) => attr.text(AttrType.Software, text),
  username: (text: string) => attr.text(AttrType.Username, text, MAX_USERNAME_BYTES),
  realm: (text: string) => attr.text(AttrType.Realm, text),
  nonce: (text: string) => attr.text(AttrType.Nonce, text),
}
