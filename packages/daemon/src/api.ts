import type { IncomingMessage, ServerResponse } from 'node:http'
import { decodePeerAddress } from '@p2pd/address'
import type { AddressInterface } from '@p2pd/interface'
import { Deadline, type Pipe } from '@p2pd/interface'
import type { P2pdNode } from '@p2pd/node'
import type { DaemonPipe } from './daemon-pipe.js'
import { HttpError } from './errors.js'
import { intParam, mediaType, parseJsonObject, readBody, sendEmpty, sendJson } from './http-util.js'
import { openApiDocument } from './openapi.js'
import type { PipeTable } from './pipe-table.js'

// The REST endpoints. Each handler validates everything it reads and answers exactly once;
// errors it throws are turned into `{ error: { code, message } }` by the dispatcher.

/** What every handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly url: URL
  /** The path's `{id}`, for pipe routes. */
  readonly id: string
  /** Aborts when the client goes away or the daemon stops. */
  readonly signal: AbortSignal
  /** CORS headers to add to the answer. */
  readonly headers: Record<string, string>
}

/** The daemon's state the handlers read. */
export interface ApiState {
  readonly node: P2pdNode
  readonly table: PipeTable
  readonly startedAt: number
  readonly version: string
  readonly acceptsIncoming: boolean
  readonly maxBody: number
  readonly maxPollMs: number
  readonly connectTimeoutMs: number
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE'
  /** Path pattern; a `([^/]+)` group is the pipe ID. */
  readonly path: RegExp
  run(state: ApiState, ctx: RouteContext): Promise<void> | void
}

/** Long-poll and connect bounds (ms). */
export const DEFAULT_POLL_MS = 30_000
const NAME = /^[\x21-\x7e]{1,253}$/
const MAX_RECV = 1 << 20

const json = (ctx: RouteContext, status: number, body: unknown) =>
  sendJson(ctx.res, status, body, ctx.headers)

/** A long-poll's wait: `timeoutMs` from the query, cut short when the client leaves. */
function pollWait(state: ApiState, ctx: RouteContext): Deadline {
  const ms = intParam(ctx.url.searchParams, 'timeoutMs', DEFAULT_POLL_MS, 0, state.maxPollMs)
  return new Deadline(ms, ctx.signal, 'long-poll')
}

function natJson(i: AddressInterface, family: 'ipv4' | 'ipv6') {
  return {
    family,
    ext: i.ext,
    nic: i.nic,
    port: i.port,
    nat: { type: i.nat.type, delta: { type: i.nat.delta.type, value: i.nat.delta.value } },
  }
}

function pipeJson(entry: DaemonPipe) {
  return { pipe: entry.id, peer: entry.pipe.remotePeer, strategy: entry.pipe.strategy }
}

async function connect(state: ApiState, ctx: RouteContext): Promise<void> {
  const body = parseJsonObject(await readBody(ctx.req, state.maxBody, ctx.signal))
  const { address, name } = body
  const timeoutMs =
    body.timeoutMs === undefined ? state.connectTimeoutMs : (body.timeoutMs as number)
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 120_000) {
    throw new HttpError(400, 'BAD_REQUEST', 'timeoutMs must be a whole number 1–120000')
  }
  if ((address === undefined) === (name === undefined)) {
    throw new HttpError(400, 'BAD_REQUEST', 'give exactly one of "address" or "name"')
  }
  if (address !== undefined) {
    if (typeof address !== 'string')
      throw new HttpError(400, 'BAD_ADDRESS', '"address" must be a string')
    try {
      decodePeerAddress(address)
    } catch (err) {
      throw new HttpError(400, 'BAD_ADDRESS', `not a peer address: ${(err as Error).message}`)
    }
  } else if (typeof name !== 'string' || !NAME.test(name)) {
    throw new HttpError(400, 'BAD_NAME', '"name" must be 1–253 printable characters')
  }
  if (!state.table.hasRoom()) {
    throw new HttpError(503, 'TOO_MANY_PIPES', `the daemon holds ${state.table.maxPipes} pipes`)
  }
  const deadline = new Deadline(timeoutMs, ctx.signal, 'connect')
  let pipe: Pipe & { report?: { totalMs: number } }
  try {
    pipe = await deadline.race(
      state.node.connect((address ?? name) as string, {
        signal: deadline.signal,
        timeoutMs,
        upgrade: false,
      }),
    )
  } catch (err) {
    throw connectError(err, address === undefined)
  } finally {
    deadline.dispose()
  }
  let entry: DaemonPipe
  try {
    entry = state.table.add(pipe, 'outbound')
  } catch (err) {
    pipe.on('error', () => {})
    void pipe.close()
    throw err
  }
  json(ctx, 200, { ...pipeJson(entry), ms: Math.round(pipe.report?.totalMs ?? 0) })
}

function connectError(err: unknown, byName: boolean): unknown {
  if (err instanceof HttpError) return err
  // By code, not class: a package may be loaded twice (from source and from dist).
  const code = (err as { code?: unknown })?.code
  const message = (err as Error)?.message ?? String(err)
  if (code === 'TIMEOUT') return new HttpError(504, 'CONNECT_TIMEOUT', message)
  if (code === 'ABORTED') return new HttpError(503, 'ABORTED', message)
  if (byName && code === 'NODE_NO_NAME_RESOLVER') {
    return new HttpError(501, 'NAMES_UNAVAILABLE', 'names unavailable: this node has no resolver')
  }
  if (
    byName &&
    (code === 'NAME_INVALID' || (typeof code === 'string' && code.startsWith('ADDRESS_')))
  ) {
    return new HttpError(400, 'BAD_NAME', `not a name: ${message}`)
  }
  if (byName && code === 'NAME_NOT_FOUND') return new HttpError(404, 'NAME_NOT_FOUND', message)
  if (byName && typeof code === 'string' && code.startsWith('NAME_')) {
    return new HttpError(502, 'NAME_UNRESOLVED', `${code}: ${message}`)
  }
  if (typeof code === 'string') {
    return new HttpError(502, 'CONNECT_FAILED', `${code}: ${(err as Error).message}`)
  }
  return new HttpError(502, 'CONNECT_FAILED', (err as Error)?.message ?? String(err))
}

async function send(state: ApiState, ctx: RouteContext): Promise<void> {
  const entry = state.table.get(ctx.id)
  const body = await readBody(ctx.req, state.maxBody, ctx.signal)
  let data = body
  if (mediaType(ctx.req) === 'application/json') {
    const { data: b64 } = parseJsonObject(body)
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new HttpError(400, 'BAD_REQUEST', '"data" must be standard base64 (padded)')
    }
    data = Buffer.from(b64, 'base64')
  }
  const deadline = new Deadline(state.connectTimeoutMs, ctx.signal, 'send')
  try {
    await entry.send(data, deadline.signal)
  } finally {
    deadline.dispose()
  }
  json(ctx, 200, { sent: data.length })
}

async function recv(state: ApiState, ctx: RouteContext): Promise<void> {
  const entry = state.table.get(ctx.id)
  const max = intParam(ctx.url.searchParams, 'max', MAX_RECV, 1, MAX_RECV)
  const wait = pollWait(state, ctx)
  try {
    const got = await entry.recv(max, wait.signal)
    if (got === undefined) return sendEmpty(ctx.res, 204)
    if (got === 'eof') throw new HttpError(410, 'PIPE_EOF', 'the peer finished; nothing is left')
    if (ctx.res.headersSent || ctx.res.destroyed) return
    ctx.res.writeHead(200, {
      ...ctx.headers,
      'content-type': 'application/octet-stream',
      'content-length': got.length,
      'cache-control': 'no-store',
    })
    ctx.res.end(got)
  } finally {
    wait.dispose()
  }
}

async function incoming(state: ApiState, ctx: RouteContext): Promise<void> {
  const wait = pollWait(state, ctx)
  try {
    const entry = await state.table.nextIncoming(wait.signal)
    if (!entry) return sendEmpty(ctx.res, 204)
    json(ctx, 200, pipeJson(entry))
  } finally {
    wait.dispose()
  }
}

const PIPE = '([^/]{1,100})'

/** Every REST route (the WebSocket route is served by the upgrade handler). */
export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: /^\/openapi\.json$/,
    run: (_s, ctx) => json(ctx, 200, openApiDocument()),
  },
  {
    method: 'GET',
    path: /^\/status$/,
    run: (s, ctx) =>
      json(ctx, 200, {
        version: s.version,
        api: 1,
        nodeId: s.node.nodeId,
        uptimeMs: Math.round(performance.now() - s.startedAt),
        pipes: s.table.size,
        incoming: s.acceptsIncoming,
        health: { status: s.node.health.status, problems: [...s.node.health.problems] },
      }),
  },
  {
    method: 'GET',
    path: /^\/address$/,
    run: (s, ctx) => json(ctx, 200, { address: s.node.addressText, nodeId: s.node.nodeId }),
  },
  {
    method: 'GET',
    path: /^\/nat$/,
    run: (s, ctx) => {
      const a = s.node.address
      json(ctx, 200, {
        interfaces: [
          ...a.ip4.map((i) => natJson(i, 'ipv4')),
          ...a.ip6.map((i) => natJson(i, 'ipv6')),
        ],
      })
    },
  },
  { method: 'POST', path: /^\/connect$/, run: connect },
  {
    method: 'GET',
    path: /^\/pipes$/,
    run: (s, ctx) => json(ctx, 200, { pipes: s.table.list().map((p) => p.info()) }),
  },
  {
    method: 'GET',
    path: new RegExp(`^/pipes/${PIPE}$`),
    run: (s, ctx) => json(ctx, 200, s.table.get(ctx.id).info()),
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/pipes/${PIPE}$`),
    run: async (s, ctx) => {
      await s.table.remove(ctx.id)
      sendEmpty(ctx.res, 204)
    },
  },
  { method: 'POST', path: new RegExp(`^/pipes/${PIPE}/send$`), run: send },
  { method: 'GET', path: new RegExp(`^/pipes/${PIPE}/recv$`), run: recv },
  {
    method: 'GET',
    path: new RegExp(`^/pipes/${PIPE}/ws$`),
    run: (s, ctx) => {
      s.table.get(ctx.id)
      throw new HttpError(426, 'UPGRADE_REQUIRED', 'this is a WebSocket endpoint')
    },
  },
  { method: 'GET', path: /^\/incoming$/, run: incoming },
]
