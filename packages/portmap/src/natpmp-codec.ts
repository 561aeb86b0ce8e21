import { PortMapError } from './errors.js'
import type { MappingProtocol } from './types.js'

/**
 * NAT-PMP (RFC 6886) messages. Requests are built here; replies are decoded strictly: a
 * datagram of the wrong size, version or opcode throws {@link PortMapError} and never anything
 * else.
 */

/** NAT-PMP's only version. A PCP server answers a version-0 request with its own version. */
export const NATPMP_VERSION = 0
/** The port NAT-PMP and PCP servers listen on. */
export const NATPMP_PORT = 5351

/** Result codes (RFC 6886 §3.5). */
export const natPmpResultNames: Readonly<Record<number, string>> = {
  0: 'SUCCESS',
  1: 'UNSUPPORTED_VERSION',
  2: 'NOT_AUTHORIZED',
  3: 'NETWORK_FAILURE',
  4: 'OUT_OF_RESOURCES',
  5: 'UNSUPPORTED_OPCODE',
}

const opcodeOf = { udp: 1, tcp: 2 } as const

/** "What is your external address?" (opcode 0): two bytes. */
export function encodeNatPmpExternalAddressRequest(): Uint8Array {
  return Uint8Array.of(NATPMP_VERSION, 0)
}

export interface NatPmpMapFields {
  readonly protocol: MappingProtocol
  readonly internalPort: number
  /** 0 lets the gateway choose; with lifetime 0 it must be 0 (a delete). */
  readonly suggestedExternalPort: number
  /** Seconds; 0 deletes the mapping. */
  readonly lifetimeSeconds: number
}

/** A mapping request (opcode 1 UDP, 2 TCP): twelve bytes. */
export function encodeNatPmpMapRequest(fields: NatPmpMapFields): Uint8Array {
  const out = new Uint8Array(12)
  const view = new DataView(out.buffer)
  out[0] = NATPMP_VERSION
  out[1] = opcodeOf[fields.protocol]
  view.setUint16(4, fields.internalPort)
  view.setUint16(6, fields.suggestedExternalPort)
  view.setUint32(8, fields.lifetimeSeconds)
  return out
}

/** Fields every reply carries. */
export interface NatPmpReplyHead {
  readonly resultCode: number
  /** Seconds since the gateway's mapping table was (re)started. */
  readonly epoch: number
}

export type NatPmpReply =
  | (NatPmpReplyHead & { readonly op: 'external-address'; readonly externalAddress: string })
  | (NatPmpReplyHead & {
      readonly op: 'map'
      readonly protocol: MappingProtocol
      readonly internalPort: number
      readonly externalPort: number
      readonly lifetimeSeconds: number
    })
  /** An error reply the gateway shortened to the header (RFC 6886 §3.5 allows it). */
  | (NatPmpReplyHead & { readonly op: 'error'; readonly opcode: number })

/**
 * Decodes a NAT-PMP reply.
 *
 * @throws {@link PortMapError} `PORTMAP_UNSUPPORTED_VERSION` for another version (a PCP
 *   server's answer), `PORTMAP_MALFORMED` for anything that is not a reply
 */
export function decodeNatPmpReply(bytes: Uint8Array): NatPmpReply {
  if (bytes.length < 2) throw malformed(`${bytes.length} bytes; a reply has at least 8`)
  if (bytes[0] !== NATPMP_VERSION) {
    // Only a PCP server's answer (version 1 or 2) ends the exchange; other bytes are strays.
    if ((bytes[0] as number) > 2 || bytes.length < 8 || (bytes[1] as number) < 128) {
      throw malformed(`version ${bytes[0]}, ${bytes.length} bytes`)
    }
    throw new PortMapError(
      'PORTMAP_UNSUPPORTED_VERSION',
      `reply has version ${bytes[0]}; NAT-PMP is version 0`,
    )
  }
  const opcode = bytes[1] as number
  if (opcode < 128 || opcode > 130) throw malformed(`opcode ${opcode} is not a reply (128–130)`)
  if (bytes.length < 8) throw malformed(`${bytes.length} bytes; a reply has at least 8`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const head = { resultCode: view.getUint16(2), epoch: view.getUint32(4) }
  const want = opcode === 128 ? 12 : 16
  if (bytes.length !== want) {
    // Only a failure may be cut short to its header.
    if (head.resultCode !== 0 && bytes.length === 8) return { ...head, op: 'error', opcode }
    throw malformed(`${bytes.length} bytes for opcode ${opcode}; want ${want}`)
  }
  if (opcode === 128) {
    return { ...head, op: 'external-address', externalAddress: bytes.subarray(8, 12).join('.') }
  }
  return {
    ...head,
    op: 'map',
    protocol: opcode === 129 ? 'udp' : 'tcp',
    internalPort: view.getUint16(8),
    externalPort: view.getUint16(10),
    lifetimeSeconds: view.getUint32(12),
  }
}

function malformed(why: string): PortMapError {
  return new PortMapError('PORTMAP_MALFORMED', `NAT-PMP reply: ${why}`)
}
