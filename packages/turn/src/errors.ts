import { P2pdError } from '@p2pd/interface'

/** Stable codes of {@link TurnError}. */
export type TurnErrorCode =
  /** 400 Bad Request, or a request we could not build (bad input). */
  | 'TURN_BAD_REQUEST'
  /** 401 again after authenticating: the credentials were refused. */
  | 'TURN_UNAUTHORIZED'
  /** 403 Forbidden (e.g. the server refuses this peer address). */
  | 'TURN_FORBIDDEN'
  /** 420 Unknown Attribute. */
  | 'TURN_UNKNOWN_ATTRIBUTE'
  /** 437 Allocation Mismatch: the allocation is gone (server restart, expiry) or exists already. */
  | 'TURN_ALLOCATION_MISMATCH'
  /** 438 Stale Nonce, still after retrying with the fresh nonce. */
  | 'TURN_STALE_NONCE'
  /** 440 Address Family not Supported. */
  | 'TURN_ADDRESS_FAMILY'
  /** 441 Wrong Credentials (a request of this allocation under another user). */
  | 'TURN_WRONG_CREDENTIALS'
  /** 442 Unsupported Transport Protocol. */
  | 'TURN_UNSUPPORTED_TRANSPORT'
  /** 443 Peer Address Family Mismatch. */
  | 'TURN_PEER_ADDRESS_FAMILY'
  /** 446 Connection Already Exists (RFC 6062: a Connect to a peer already connected). */
  | 'TURN_CONNECTION_EXISTS'
  /** 447 Connection Timeout or Failure (RFC 6062: the server could not reach the peer over TCP). */
  | 'TURN_CONNECTION_FAILED'
  /** 486 Allocation Quota Reached. */
  | 'TURN_QUOTA'
  /** 508 Insufficient Capacity. */
  | 'TURN_CAPACITY'
  /** Any other error response (see `errorCode`). */
  | 'TURN_ERROR_RESPONSE'
  /** A response without what it must carry (no relayed address, bad integrity…). */
  | 'TURN_BAD_RESPONSE'
  /** No response after all retransmissions. */
  | 'TURN_NO_RESPONSE'
  /** The allocation was lost: refresh failed (437, timeout) or the connection to the server died. */
  | 'TURN_ALLOCATION_LOST'
  /** Socket-level failure (bind, connect, TLS, send). */
  | 'TURN_SOCKET'
  /** The client or server is closed. */
  | 'TURN_CLOSED'
  /** A bad argument (not an IP literal, channel numbers exhausted, oversized data…). */
  | 'TURN_BAD_INPUT'
  /** The relay strategy's offer/answer failed (bad message, peer refused). */
  | 'TURN_SIGNALING'
  /**
   * A relayed stream stopped carrying packets: the allocation was lost (refresh failed, the
   * connection to the server dropped) or nothing came through the relay for the relay idle
   * timeout (server gone or restarted, far relay gone, peer gone). `cause` says which.
   */
  | 'TURN_RELAY_LOST'

const byStatus: Readonly<Record<number, TurnErrorCode>> = {
  400: 'TURN_BAD_REQUEST',
  401: 'TURN_UNAUTHORIZED',
  403: 'TURN_FORBIDDEN',
  420: 'TURN_UNKNOWN_ATTRIBUTE',
  437: 'TURN_ALLOCATION_MISMATCH',
  438: 'TURN_STALE_NONCE',
  440: 'TURN_ADDRESS_FAMILY',
  441: 'TURN_WRONG_CREDENTIALS',
  442: 'TURN_UNSUPPORTED_TRANSPORT',
  443: 'TURN_PEER_ADDRESS_FAMILY',
  446: 'TURN_CONNECTION_EXISTS',
  447: 'TURN_CONNECTION_FAILED',
  486: 'TURN_QUOTA',
  508: 'TURN_CAPACITY',
}

/** The typed code for a TURN/STUN error response status. */
export function turnErrorCodeFor(status: number): TurnErrorCode {
  return byStatus[status] ?? 'TURN_ERROR_RESPONSE'
}

/**
 * Every error the TURN client, server and strategy throw on purpose. For error responses,
 * `errorCode` is the STUN status (403, 437, 486…). Deadlines and aborts surface as
 * `TimeoutError` / `AbortError` from `@p2pd/interface`.
 */
export class TurnError extends P2pdError {
  declare readonly code: TurnErrorCode
  /** The STUN error status of an error response. */
  readonly errorCode?: number

  constructor(
    code: TurnErrorCode,
    message: string,
    options?: { cause?: unknown; errorCode?: number },
  ) {
    super(code, message, options)
    if (options?.errorCode !== undefined) this.errorCode = options.errorCode
  }
}

/** Stable codes of {@link StreamError}. */
export type StreamErrorCode =
  /** A packet shorter than its header or than its declared contents. */
  | 'STREAM_TRUNCATED'
  /** A packet of another protocol version. */
  | 'STREAM_BAD_VERSION'
  /** An unknown packet type. */
  | 'STREAM_BAD_TYPE'
  /** A packet whose fields are inconsistent (length, SACK ranges, flags). */
  | 'STREAM_BAD_PACKET'
  /** The peer reset the stream. */
  | 'STREAM_RESET'
  /** Nothing heard from the peer for the idle timeout. */
  | 'STREAM_IDLE_TIMEOUT'
  /** A segment was retransmitted too often without an acknowledgement. */
  | 'STREAM_DEAD_LINK'
  /** The stream (or its datagram link) is closed. */
  | 'STREAM_CLOSED'

/** Errors of the reliable stream and of its packet decoder (the only thing it throws). */
export class StreamError extends P2pdError {
  declare readonly code: StreamErrorCode

  constructor(code: StreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/**
 * True when `err`, or an error in its `cause` chain, is a {@link TurnError} `TURN_RELAY_LOST`:
 * a pipe over a relayed stream fails with the secure channel's own error, caused by this one.
 */
export function isRelayLost(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    // By code, not class: a second copy of this package (dist next to source) still counts.
    if ((e as { code?: unknown }).code === 'TURN_RELAY_LOST') return true
  }
  return false
}
