import { P2pdError } from '@p2pd/interface'

/**
 * Stable codes of {@link PortMapError}.
 *
 * Datagrams that a stray sender or an off-path attacker could produce (`PORTMAP_MALFORMED`,
 * `PORTMAP_MISMATCH`) are dropped by the clients, which keep waiting for the genuine reply; the
 * rest come from the gateway we asked and fail the request at once.
 */
export type PortMapErrorCode =
  /** A reply (or a description document) that does not parse: wrong size, field or XML. */
  | 'PORTMAP_MALFORMED'
  /** A well-formed reply to another request (opcode, nonce, protocol or port differ). */
  | 'PORTMAP_MISMATCH'
  /** The gateway speaks another version of the protocol (PCP ↔ NAT-PMP, RFC 6887 §9). */
  | 'PORTMAP_UNSUPPORTED_VERSION'
  /** The gateway answered with an error result (`resultCode` and `resultName` tell which). */
  | 'PORTMAP_REFUSED'
  /** The gateway granted a mapping that is useless: lifetime 0, port 0, or another protocol. */
  | 'PORTMAP_BAD_GRANT'
  /** No gateway given and none found in the routing table. */
  | 'PORTMAP_NO_GATEWAY'
  /** No UPnP Internet Gateway Device answered, or its description names no WAN service. */
  | 'PORTMAP_NO_DEVICE'
  /** HTTP or socket failure talking to the gateway. */
  | 'PORTMAP_NETWORK'
  /** Only dropped replies (or none) arrived before the deadline. */
  | 'PORTMAP_NO_REPLY'
  /** Every method was tried and none gave a mapping (`cause`: an `AggregateError`). */
  | 'PORTMAP_FAILED'
  /** A mapping's refresh failed until it expired. */
  | 'PORTMAP_LOST'
  /** A bad argument (port, lifetime, address). */
  | 'PORTMAP_BAD_ARGUMENT'

/** Every error `@p2pd/portmap` throws on purpose (besides `TimeoutError`/`AbortError`). */
export class PortMapError extends P2pdError {
  declare readonly code: PortMapErrorCode
  /** The protocol's result code, for `PORTMAP_REFUSED` (PCP, NAT-PMP or UPnP `errorCode`). */
  readonly resultCode?: number
  /** The result code's name (`NOT_AUTHORIZED`, `ConflictInMappingEntry`, …). */
  readonly resultName?: string

  constructor(
    code: PortMapErrorCode,
    message: string,
    options?: { cause?: unknown; resultCode?: number; resultName?: string },
  ) {
    super(code, message, options)
    if (options?.resultCode !== undefined) this.resultCode = options.resultCode
    if (options?.resultName !== undefined) this.resultName = options.resultName
  }
}

/** Codes of replies that are dropped while the client keeps waiting for the genuine one. */
export const DROPPED_REPLY_CODES: ReadonlySet<PortMapErrorCode> = new Set<PortMapErrorCode>([
  'PORTMAP_MALFORMED',
  'PORTMAP_MISMATCH',
])

/** A gateway's refusal, named from the protocol's table of result codes. */
export function refusedError(
  protocol: string,
  gateway: string,
  resultCode: number,
  names: Readonly<Record<number, string>>,
): PortMapError {
  const resultName = names[resultCode] ?? `result ${resultCode}`
  return new PortMapError('PORTMAP_REFUSED', `${protocol} refused by ${gateway}: ${resultName}`, {
    resultCode,
    resultName,
  })
}
