import { StunError } from '../errors.js'

/**
 * TCP-CALLBACK (request) and TCP-CALLBACK-RESULT (response): a p2pd extension that measures
 * TCP filtering, which plain STUN cannot (RFC 5780's CHANGE-REQUEST needs a reply on another
 * connection, so TCP servers refuse it). The client listens on the local port of its
 * connection and asks the server to dial its mapped address from the other IP and/or port;
 * the answer says whether that SYN got through, was answered with RST, or vanished.
 *
 * Both types are comprehension-optional (0xC000–0xFFFF), so servers without the extension
 * (coturn) ignore the request attribute and answer a plain Binding: no result attribute means
 * "not measured here".
 */
export const TCP_CALLBACK = 0xc0d1
/** See {@link TCP_CALLBACK}. */
export const TCP_CALLBACK_RESULT = 0xc0d2

/** What a TCP-CALLBACK asks for: where the server's SYN leaves from, and how long it waits. */
export interface TcpCallbackRequest {
  /** Dial from the server's other IP (the endpoint-independent filtering test). */
  readonly changeIp: boolean
  /** Dial from another port (always true in practice: the listening port is taken). */
  readonly changePort: boolean
  /** How long the server waits for the handshake, ms (servers clamp it, 100–3000). */
  readonly timeoutMs: number
  /**
   * Dial this port of the client's public IP instead of its mapped port (0 or absent: the
   * mapped port). A port nothing mapped shows what the NAT does with an unsolicited SYN.
   */
  readonly port?: number
}

/**
 * What became of the server's SYN: `connected` (the filter let it through), `refused` (RST:
 * from the NAT/firewall, as the client was listening), `timeout` (silently dropped),
 * `unreachable` (ICMP or no route), `unavailable` (the server has no other IP to dial from),
 * `limited` (the server is busy or this source asked too often).
 */
export type TcpCallbackOutcome =
  | 'connected'
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'unavailable'
  | 'limited'

const OUTCOMES: readonly TcpCallbackOutcome[] = [
  'connected',
  'refused',
  'timeout',
  'unreachable',
  'unavailable',
  'limited',
]

const CHANGE_IP = 0x04
const CHANGE_PORT = 0x02
/** The bounds a server applies to a requested wait. */
export const TCP_CALLBACK_MIN_MS = 100
export const TCP_CALLBACK_MAX_MS = 3000

/**
 * Encodes a TCP-CALLBACK value (8 bytes): flags (1), reserved (1), wait in ms (2), port (2),
 * reserved (2); integers big-endian.
 */
export function encodeTcpCallback(req: TcpCallbackRequest): Buffer {
  if (!Number.isInteger(req.timeoutMs) || req.timeoutMs < 1 || req.timeoutMs > 0xffff) {
    throw new StunError('STUN_BAD_INPUT', `TCP-CALLBACK wait out of range: ${req.timeoutMs}`)
  }
  const port = req.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new StunError('STUN_BAD_INPUT', `TCP-CALLBACK port out of range: ${port}`)
  }
  const out = Buffer.alloc(8)
  out[0] = (req.changeIp ? CHANGE_IP : 0) | (req.changePort ? CHANGE_PORT : 0)
  out.writeUInt16BE(req.timeoutMs, 2)
  out.writeUInt16BE(port, 4)
  return out
}

/** Decodes a TCP-CALLBACK value; the wait is clamped to what a server grants. */
export function decodeTcpCallback(value: Uint8Array): TcpCallbackRequest {
  if (value.length !== 8) throw new StunError('STUN_BAD_ATTRIBUTE', 'TCP-CALLBACK has 8 bytes')
  const flags = value[0] as number
  const wait = ((value[2] as number) << 8) | (value[3] as number)
  const port = ((value[4] as number) << 8) | (value[5] as number)
  return {
    changeIp: (flags & CHANGE_IP) !== 0,
    changePort: (flags & CHANGE_PORT) !== 0,
    timeoutMs: Math.min(TCP_CALLBACK_MAX_MS, Math.max(TCP_CALLBACK_MIN_MS, wait)),
    ...(port !== 0 ? { port } : {}),
  }
}

/** What the server reports: the outcome and how long the dial took, ms. */
export interface TcpCallbackResult {
  readonly outcome: TcpCallbackOutcome
  readonly elapsedMs: number
}

/** Encodes a TCP-CALLBACK-RESULT value: outcome (1 byte), reserved (1), elapsed ms (2). */
export function encodeTcpCallbackResult(result: TcpCallbackResult): Buffer {
  const out = Buffer.alloc(4)
  out[0] = OUTCOMES.indexOf(result.outcome)
  out.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.round(result.elapsedMs))), 2)
  return out
}

/** Decodes a TCP-CALLBACK-RESULT value; an unknown outcome code is a `STUN_BAD_ATTRIBUTE`. */
export function decodeTcpCallbackResult(value: Uint8Array): TcpCallbackResult {
  if (value.length !== 4) {
    throw new StunError('STUN_BAD_ATTRIBUTE', 'TCP-CALLBACK-RESULT has 4 bytes')
  }
  const outcome = OUTCOMES[value[0] as number]
  if (!outcome) {
    throw new StunError('STUN_BAD_ATTRIBUTE', `unknown TCP-CALLBACK outcome ${value[0]}`)
  }
  return { outcome, elapsedMs: ((value[2] as number) << 8) | (value[3] as number) }
}
