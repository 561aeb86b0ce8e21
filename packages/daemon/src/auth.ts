import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { HttpError } from './errors.js'

// Who may talk to the daemon: whoever holds the token, from a configured origin (or from no
// browser at all). Checked before anything else on every request.

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** Compares in constant time (both sides hashed first, so lengths leak nothing either). */
export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token))
}

/** Subprotocol prefix that carries the token for browsers: `p2pd.token.<token>`. */
export const TOKEN_PROTOCOL_PREFIX = 'p2pd.token.'
/** The subprotocol the daemon selects when a client offers it. */
export const PROTOCOL = 'p2pd'

/** Every subprotocol the client offered (`Sec-WebSocket-Protocol`). */
export function offeredProtocols(req: IncomingMessage): string[] {
  return (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
}

/**
 * The token the request carries: `Authorization: Bearer <token>` always; for a WebSocket
 * upgrade also `?token=<token>` or the subprotocol `p2pd.token.<token>` (browsers cannot set
 * headers on a WebSocket).
 */
export function presentedToken(
  req: IncomingMessage,
  url: URL,
  websocket: boolean,
): string | undefined {
  const auth = req.headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m) return m[1]
  }
  if (!websocket) return undefined
  const query = url.searchParams.get('token')
  if (query !== null) return query
  const proto = offeredProtocols(req).find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))
  return proto?.slice(TOKEN_PROTOCOL_PREFIX.length)
}

/** 401 unless the request carries the token. */
export function checkToken(req: IncomingMessage, url: URL, token: string, websocket: boolean) {
  const given = presentedToken(req, url, websocket)
  if (given === undefined) {
    throw new HttpError(401, 'UNAUTHORIZED', 'send Authorization: Bearer <token>')
  }
  if (!tokenMatches(given, token)) throw new HttpError(401, 'UNAUTHORIZED', 'wrong token')
}

/**
 * The CORS headers for a request's `Origin`: none without one (not a browser, or same-origin
 * navigation), the allow headers for a configured origin, 403 `ORIGIN_FORBIDDEN` for any other.
 */
export function corsHeaders(
  req: IncomingMessage,
  allowed: ReadonlySet<string>,
): Record<string, string> {
  const origin = req.headers.origin
  if (origin === undefined) return {}
  if (!allowed.has(origin)) {
    throw new HttpError(403, 'ORIGIN_FORBIDDEN', `origin '${origin.slice(0, 100)}' is not allowed`)
  }
  return {
    'access-control-allow-origin': origin,
    vary: 'Origin',
  }
}

/** Answer headers of a CORS preflight from an allowed origin. */
export const PREFLIGHT_HEADERS: Record<string, string> = {
  'access-control-allow-methods': 'GET, POST, DELETE',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '600',
}
