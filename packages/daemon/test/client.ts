import { expect } from 'vitest'
import type { Served } from './harness.js'

/** One answer as the tests (and the OpenAPI check) see it. */
export interface Answer {
  readonly method: string
  /** The path template it hit (`/pipes/{id}/recv`), for the OpenAPI check. */
  readonly template: string
  readonly status: number
  readonly headers: Headers
  readonly body: Buffer
  /** Parsed when the answer is JSON. */
  readonly json: unknown
}

/** Every answer the tests got, checked against the OpenAPI document at the end. */
export const answers: Answer[] = []

const template = (path: string) =>
  path
    .split('?')[0]
    ?.replace(/^\/pipes\/[^/]+/, (m) => (m === '/pipes' ? m : '/pipes/{id}')) as string

export interface CallOptions {
  body?: unknown
  raw?: Uint8Array | string
  contentType?: string
  token?: string | null
  headers?: Record<string, string>
}

/** Calls the daemon over real HTTP with the bearer token (unless `token: null`). */
export async function call(
  s: Served,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers }
  const token = opts.token === undefined ? s.token : opts.token
  if (token !== null) headers.authorization = `Bearer ${token}`
  let body: Uint8Array | string | undefined
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['content-type'] = 'application/json'
  } else if (opts.raw !== undefined) {
    body = opts.raw
    headers['content-type'] = opts.contentType ?? 'application/octet-stream'
  }
  const res = await fetch(`${s.daemon.url}${path}`, { method, headers, body })
  const buf = Buffer.from(await res.arrayBuffer())
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json')
  const answer: Answer = {
    method,
    template: template(path),
    status: res.status,
    headers: res.headers,
    body: buf,
    json: isJson ? JSON.parse(buf.toString('utf8')) : undefined,
  }
  answers.push(answer)
  return answer
}

/** The error code of a JSON error answer. */
export const code = (a: Answer) => (a.json as { error?: { code?: string } })?.error?.code

/** Reads from a pipe by long-poll until `n` bytes arrived (or EOF). */
export async function recvAll(s: Served, pipe: string, n: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let got = 0
  while (got < n) {
    const a = await call(s, 'GET', `/pipes/${pipe}/recv?timeoutMs=10000`)
    if (a.status === 410) break
    if (a.status === 204) continue
    if (a.status !== 200) throw new Error(`recv: ${a.status} ${a.body}`)
    parts.push(a.body)
    got += a.body.length
  }
  return Buffer.concat(parts)
}

/** Connects `from` → `to` by address over the API; returns both pipe IDs. */
export async function connectPipes(
  from: Served,
  to: Served,
): Promise<{ out: string; inb: string }> {
  const addr = (await call(to, 'GET', '/address')).json as { address: string }
  const c = await call(from, 'POST', '/connect', { body: { address: addr.address } })
  expect(c.status, c.body.toString()).toBe(200)
  const inc = await call(to, 'GET', '/incoming?timeoutMs=10000')
  expect(inc.status).toBe(200)
  return { out: (c.json as { pipe: string }).pipe, inb: (inc.json as { pipe: string }).pipe }
}
