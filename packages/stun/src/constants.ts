/** The fixed magic cookie of RFC 5389/8489 messages. */
export const MAGIC_COOKIE = 0x2112a442

/** Size of the STUN header in bytes. */
export const HEADER_LENGTH = 20

/** Size of a transaction id (after the magic cookie) in bytes. */
export const TRANSACTION_ID_LENGTH = 12

/** FINGERPRINT is CRC-32 of the message XOR this value ("STUN"). */
export const FINGERPRINT_XOR = 0x5354554e

/** Message classes (already in their position in the type field). */
export const StunClass = {
  Request: 0x0000,
  Indication: 0x0010,
  SuccessResponse: 0x0100,
  ErrorResponse: 0x0110,
} as const
export type StunClass = (typeof StunClass)[keyof typeof StunClass]

/** STUN methods: Binding (RFC 8489) and the TURN ones (RFC 8656, RFC 6062). */
export const StunMethod = {
  Binding: 0x001,
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
  Connect: 0x00a,
  ConnectionBind: 0x00b,
  ConnectionAttempt: 0x00c,
} as const
export type StunMethod = (typeof StunMethod)[keyof typeof StunMethod]

/** Protocol numbers of REQUESTED-TRANSPORT: UDP relays (RFC 8656), TCP relays (RFC 6062). */
export const TransportProtocol = { Udp: 17, Tcp: 6 } as const
export type TransportProtocol = (typeof TransportProtocol)[keyof typeof TransportProtocol]

/**
 * Attribute types this package knows about. Any other 16-bit type is kept as an unknown
 * attribute. Types < 0x8000 are comprehension-required.
 */
export const AttrType = {
  MappedAddress: 0x0001,
  /** RFC 3489, legacy. */
  ResponseAddress: 0x0002,
  ChangeRequest: 0x0003,
  /** RFC 3489, legacy. */
  SourceAddress: 0x0004,
  /** RFC 3489, legacy (RFC 5780 replaced it with OTHER-ADDRESS). */
  ChangedAddress: 0x0005,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorRelayedAddress: 0x0016,
  RequestedAddressFamily: 0x0017,
  EvenPort: 0x0018,
  RequestedTransport: 0x0019,
  DontFragment: 0x001a,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  ReservationToken: 0x0022,
  /** ICE (RFC 8445). */
  Priority: 0x0024,
  /** ICE (RFC 8445). */
  UseCandidate: 0x0025,
  Padding: 0x0026,
  ResponsePort: 0x0027,
  ConnectionId: 0x002a,
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  /** Pre-RFC 5389 drafts used this type for XOR-MAPPED-ADDRESS. */
  XorMappedAddressOld: 0x8020,
  Software: 0x8022,
  AlternateServer: 0x8023,
  CacheTimeout: 0x8027,
  Fingerprint: 0x8028,
  /** ICE (RFC 8445). */
  IceControlled: 0x8029,
  /** ICE (RFC 8445). */
  IceControlling: 0x802a,
  ResponseOrigin: 0x802b,
  OtherAddress: 0x802c,
} as const
export type AttrType = (typeof AttrType)[keyof typeof AttrType]

/** True for attribute types an agent must understand (0x0000–0x7FFF). */
export function isComprehensionRequired(type: number): boolean {
  return type < 0x8000
}

/** Default STUN port (UDP and TCP). */
export const DEFAULT_STUN_PORT = 3478
