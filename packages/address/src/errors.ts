import { P2pdError } from '@p2pd/interface'

/**
 * Every reason {@link decodePeerAddress} or {@link encodePeerAddress} can refuse a value.
 * The codes are stable; messages are for humans and may change.
 */
export type AddressErrorCode =
  /** The input is not a string (decode), or a model field has the wrong JavaScript type. */
  | 'ADDRESS_TYPE'
  /** The text is longer than {@link MAX_ADDRESS_LENGTH}; checked before anything else. */
  | 'ADDRESS_TOO_LONG'
  /** A character outside printable ASCII (0x20–0x7e). */
  | 'ADDRESS_CHARSET'
  /** Not exactly five `-`-separated sections. */
  | 'ADDRESS_SECTIONS'
  /** Bad signal offsets: not `None` or a list of distinct 0–255 integers, or too many. */
  | 'ADDRESS_SIGNAL'
  /** An interface item not wrapped in `[` … `]` (an empty item included). */
  | 'ADDRESS_BRACKETS'
  /** An interface item without exactly eight `,`-separated fields. */
  | 'ADDRESS_FIELDS'
  /** A numeric field that is not a canonical decimal integer. */
  | 'ADDRESS_NUMBER'
  /** `netifaceIndex` or `ifIndex` outside 0–65535. */
  | 'ADDRESS_INDEX'
  /** A port outside 1–65535. */
  | 'ADDRESS_PORT'
  /** A NAT type outside 1–7. */
  | 'ADDRESS_NAT_TYPE'
  /** A delta type outside 1–6. */
  | 'ADDRESS_DELTA_TYPE'
  /** A delta value with |value| > 65535. */
  | 'ADDRESS_DELTA_VALUE'
  /** Not an IP address (or a bad IPv6 zone id). */
  | 'ADDRESS_IP'
  /** An IP of the wrong family for its section (IPv4-mapped IPv6 counts as IPv4). */
  | 'ADDRESS_FAMILY'
  /** More than {@link MAX_INTERFACES} interfaces in one family. */
  | 'ADDRESS_TOO_MANY_INTERFACES'
  /** Two interfaces of one family with the same `ifIndex`. */
  | 'ADDRESS_DUPLICATE_INTERFACE'
  /** A node ID that is neither a compressed public key nor a legacy token (or `legacy` lies). */
  | 'ADDRESS_NODE_ID'
  /** A machine ID that is not a 1–128 character `[A-Za-z0-9_.]` token. */
  | 'ADDRESS_MACHINE_ID'

/** A peer address (text or model) was refused. `field` names where, e.g. `ip4[1].port`. */
export class AddressError extends P2pdError {
  declare readonly code: AddressErrorCode
  /** The offending field: `address`, `signal`, `ip4`, `ip6[0].nic`, `nodeId`, … */
  readonly field: string

  constructor(code: AddressErrorCode, field: string, message: string) {
    super(code, `${field}: ${message}`)
    this.field = field
  }
}

const SHOWN_CHARS = 40

/**
 * Renders an offending value for a message: quoted, escaped and truncated, so a megabyte of
 * garbage (or a control character) never ends up verbatim in a log line.
 */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}…` : value
    return JSON.stringify(cut)
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a value of type ${typeof value}`
}
