import type { IncomingMessage, ServerResponse } from 'node:http'
import { abortReason, isP2pdError } from '@p2pd/interface'
import { HttpError } from './errors.js'

// Reading bounded bodies and writing JSON answers, the same way on every route.

/** Writes a JSON answer (no-op when the client is gone or an answer was already sent). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

/** An empty answer (204, or a 200 without body). */
export function sendEmpty(res: ServerResponse, status: number): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { 'cache-control': 'no-store' })
  res.end()
}

/** Answers with `{ "error": { "code", "message" } }`; unknown errors become a 500. */
export function sendError(res: ServerResponse, err: unknown, headers?: Record<string, string>) {
  if (err instanceof HttpError) {
    sendJson(res, err.status, { error: { code: err.code, message: err.message } }, headers)
  } else if (isP2pdError(err, 'TIMEOUT')) {
    sendJson(res, 504, { error: { code: 'TIMEOUT', message: err.message } }, headers)
  } else {
    sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } }, headers)
  }
}

/**
 * Reads the whole body, refusing more than `limit` bytes with 413 (from `Content-Length`
 * before reading, or as the bytes arrive) and giving up when `signal` aborts.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  if (declared > limit) {
    return Promise.reject(new HttpError(413, 'BODY_TOO_LARGE', `body over ${limit} bytes`))
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let size = 0
    const done = (err?: unknown) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      signal.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve(Buffer.concat(parts, size))
    }
    const onData = (d: Buffer) => {
      size += d.length
      if (size > limit) {
        req.pause()
        done(new HttpError(413, 'BODY_TOO_LARGE', `body over ${limit} bytes`))
      } else parts.push(d)
    }
    const onEnd = () => done()
    const onError = (e: Error) => done(new HttpError(400, 'BAD_REQUEST', `body: ${e.message}`))
    const onAbort = () => done(abortReason(signal))
    if (signal.aborted) return onAbort()
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Parses a JSON object body; 400 `BAD_JSON` for anything else. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new HttpError(400, 'BAD_JSON', 'the body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'BAD_JSON', 'the body must be a JSON object')
  }
  return value as Record<string, unknown>
}

/**
 * A whole-number query parameter in `[min, max]`, `fallback` when absent; 400 otherwise.
 */
export function intParam(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = query.get(name)
  if (text === null) return fallback
  const n = Number(text)
  if (!/^\d{1,9}$/.test(text) || n < min || n > max) {
    throw new HttpError(400, 'BAD_PARAM', `${name} must be a whole number ${min}–${max}`)
  }
  return n
}

/** The media type of a request, lower-case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}
