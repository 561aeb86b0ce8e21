import { PortMapError } from './errors.js'
import { ipFrom16, ipTo16 } from './ip16.js'
import type { MappingProtocol } from './types.js'

/**
 * PCP (RFC 6887) MAP messages. Requests are built here; replies are decoded strictly: anything
 * that is not a well-formed PCP reply throws {@link PortMapError} and never anything else.
 */

export const PCP_VERSION = 2
/** Opcode MAP (RFC 6887 §11). */
export const PCP_OPCODE_MAP = 1
/** A PCP message is at most 1100 bytes (§7). */
export const PCP_MAX_MESSAGE = 1100
/** Bytes of a MAP request or reply without options: 24 header + 36 MAP. */
export const PCP_MAP_SIZE = 60

/** Result codes (RFC 6887 §7.4). */
export const pcpResultNames: Readonly<Record<number, string>> = {
  0: 'SUCCESS',
  1: 'UNSUPP_VERSION',
  2: 'NOT_AUTHORIZED',
  3: 'MALFORMED_REQUEST',
  4: 'UNSUPP_OPCODE',
  5: 'UNSUPP_OPTION',
  6: 'MALFORMED_OPTION',
  7: 'NETWORK_FAILURE',
  8: 'NO_RESOURCES',
  9: 'UNSUPP_PROTOCOL',
  10: 'USER_EX_QUOTA',
  11: 'CANNOT_PROVIDE_EXTERNAL',
  12: 'ADDRESS_MISMATCH',
  13: 'EXCESSIVE_REMOTE_PEERS',
}

/** IANA protocol numbers PCP uses. */
const protocolNumber = { tcp: 6, udp: 17 } as const

export interface PcpMapFields {
  /** 12 random bytes that tie replies (and later renewals) to this mapping. */
  readonly nonce: Uint8Array
  readonly protocol: MappingProtocol
  readonly internalPort: number
  /** 0: no preference. */
  readonly suggestedExternalPort: number
  /** `0.0.0.0` or `::`: no preference. */
  readonly suggestedExternalAddress: string
  /** Seconds; 0 deletes the mapping. */
  readonly lifetimeSeconds: number
  /** Our own address, exactly the source address of the datagram (else ADDRESS_MISMATCH). */
  readonly clientAddress: string
}

/** A MAP request without options: sixty bytes. */
export function encodePcpMapRequest(fields: PcpMapFields): Uint8Array {
  if (fields.nonce.length !== 12) {
    throw new PortMapError(
      'PORTMAP_BAD_ARGUMENT',
      `nonce has ${fields.nonce.length} bytes; want 12`,
    )
  }
  const out = new Uint8Array(PCP_MAP_SIZE)
  const view = new DataView(out.buffer)
  out[0] = PCP_VERSION
  out[1] = PCP_OPCODE_MAP
  view.setUint32(4, fields.lifetimeSeconds)
  out.set(ipTo16(fields.clientAddress), 8)
  out.set(fields.nonce, 24)
  out[36] = protocolNumber[fields.protocol]
  view.setUint16(40, fields.internalPort)
  view.setUint16(42, fields.suggestedExternalPort)
  out.set(ipTo16(fields.suggestedExternalAddress), 44)
  return out
}

/** A decoded MAP reply. On failure (`resultCode` ≠ 0) the MAP fields echo the request. */
export interface PcpMapReply {
  readonly resultCode: number
  /** Granted lifetime (on failure: how long the error is likely to last). */
  readonly lifetimeSeconds: number
  /** Seconds since the server's state began; a jump back means it lost our mappings (§8.5). */
  readonly epoch: number
  readonly nonce: Uint8Array
  /** The protocol number as sent (6 TCP, 17 UDP, others possible from a broken server). */
  readonly protocolNumber: number
  readonly protocol: MappingProtocol | undefined
  readonly internalPort: number
  readonly externalPort: number
  readonly externalAddress: string
  /** Option codes present (not interpreted). */
  readonly options: readonly number[]
}

/**
 * Decodes a PCP reply to a MAP request.
 *
 * @throws {@link PortMapError} `PORTMAP_UNSUPPORTED_VERSION` when the server answered in
 *   another version (a NAT-PMP-only server answers with version 0, §9); `PORTMAP_MALFORMED`
 *   for anything else that is not a MAP reply
 */
export function decodePcpMapReply(bytes: Uint8Array): PcpMapReply {
  if (bytes.length < 2) throw malformed(`${bytes.length} bytes`)
  if (bytes[0] !== PCP_VERSION) {
    // Only a real answer in an older version (0 NAT-PMP, 1 pre-RFC PCP) ends the exchange;
    // other bytes are strays, dropped like any malformed datagram.
    if ((bytes[0] as number) > 1 || bytes.length < 8 || (bytes[1] as number) < 128) {
      throw malformed(`version ${bytes[0]}, ${bytes.length} bytes`)
    }
    throw new PortMapError(
      'PORTMAP_UNSUPPORTED_VERSION',
      `reply has version ${bytes[0]}; PCP is version ${PCP_VERSION}`,
    )
  }
  if (bytes[1] !== (0x80 | PCP_OPCODE_MAP)) {
    throw malformed(`opcode byte 0x${(bytes[1] as number).toString(16)}; want a MAP reply (0x81)`)
  }
  if (bytes.length < PCP_MAP_SIZE || bytes.length > PCP_MAX_MESSAGE || bytes.length % 4 !== 0) {
    throw malformed(`${bytes.length} bytes; want 60–1100, a multiple of 4`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const number = bytes[36] as number
  return {
    resultCode: bytes[3] as number,
    lifetimeSeconds: view.getUint32(4),
    epoch: view.getUint32(8),
    nonce: bytes.slice(24, 36),
    protocolNumber: number,
    protocol: number === 6 ? 'tcp' : number === 17 ? 'udp' : undefined,
    internalPort: view.getUint16(40),
    externalPort: view.getUint16(42),
    externalAddress: ipFrom16(bytes.subarray(44, 60)),
    options: readOptions(bytes, view),
  }
}

/** Option codes after the MAP data; each is 4 bytes of header and data padded to 4 (§7.3). */
function readOptions(bytes: Uint8Array, view: DataView): number[] {
  const codes: number[] = []
  for (let at = PCP_MAP_SIZE; at < bytes.length; ) {
    if (at + 4 > bytes.length) throw malformed(`option header at ${at} runs past the end`)
    const length = view.getUint16(at + 2)
    const next = at + 4 + Math.ceil(length / 4) * 4
    if (next > bytes.length)
      throw malformed(`option ${bytes[at]} (${length} bytes) runs past the end`)
    codes.push(bytes[at] as number)
    at = next
  }
  return codes
}

function malformed(why: string): PortMapError {
  return new PortMapError('PORTMAP_MALFORMED', `PCP reply: ${why}`)
}
