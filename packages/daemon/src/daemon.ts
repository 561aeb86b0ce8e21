import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { Deadline, isP2pdError, linkSignals } from '@p2pd/interface'
import type { P2pdNode } from '@p2pd/node'
import { type ApiState, ROUTES, type RouteContext } from './api.js'
import {
  checkToken,
  corsHeaders,
  offeredProtocols,
  PREFLIGHT_HEADERS,
  PROTOCOL,
  TOKEN_PROTOCOL_PREFIX,
} from './auth.js'
import { DaemonError, HttpError } from './errors.js'
import { HostPolicy } from './host-check.js'
import { sendError } from './http-util.js'
import { PipeTable } from './pipe-table.js'
import { acceptKey, checkUpgrade, WebSocketConnection } from './websocket.js'
import { CloseCode } from './ws-frame.js'

/** P2PD's REST port, and this daemon's default. */
export const DEFAULT_DAEMON_PORT = 12333

/** What {@link startDaemon} takes. Only `node` and `token` are required. */
export interface DaemonOptions {
  /** A started node: the daemon connects with it and hands out its pipes. */
  readonly node: P2pdNode
  /** The bearer token every request must carry (see `loadOrCreateToken`). */
  readonly token: string
  /** TCP port (default 12333; 0 = any free port). */
  readonly port?: number
  /** Bind address (default `127.0.0.1`: this machine only). */
  readonly host?: string
  /**
   * Browser origins allowed to call the API (exact `Origin` values such as
   * `http://localhost:5173`). A request with any other `Origin` is refused with 403.
   */
  readonly cors?: readonly string[]
  /**
   * More names (or addresses) clients use to reach the daemon, besides `localhost`, the
   * loopback addresses and the listen address: a request whose `Host` header names anything
   * else is refused with 421 (DNS rebinding).
   */
  readonly allowedHosts?: readonly string[]
  /**
   * Hand inbound pipes (peers connecting to this node) to clients through `GET /incoming`
   * (default false: they are closed at once).
   */
  readonly incoming?: boolean
  /** Stops the daemon when it aborts. */
  readonly signal?: AbortSignal
  /** What `GET /status` reports as `version`. */
  readonly version?: string
  /** Limits; the defaults suit one machine's programs. */
  readonly limits?: Partial<DaemonLimits>
}

/** Every bound the daemon enforces. */
export interface DaemonLimits {
  /** Pipes held at once (default 256); `POST /connect` answers 503 past it. */
  readonly maxPipes: number
  /** Inbound pipes announced but not yet fetched by `GET /incoming` (default 64). */
  readonly maxIncoming: number
  /** Received bytes buffered per pipe before the pipe is paused (default 1 MiB). */
  readonly pipeBufferBytes: number
  /** Largest request body (default 1 MiB); more is refused with 413. */
  readonly maxBodyBytes: number
  /** Longest long-poll `timeoutMs` (default 120 000). */
  readonly maxPollMs: number
  /** Default deadline of `POST /connect` and of one send (default 30 000 ms). */
  readonly connectTimeoutMs: number
  /** Open HTTP connections, WebSockets included (default 128); more are dropped. */
  readonly maxConnections: number
  /** WebSockets open at once (default 64); more upgrades are refused with 503. */
  readonly maxWebSockets: number
  /** Header lines of one request (default 64); more is refused with 431. */
  readonly maxHeaders: number
  /** Time for a request's headers to arrive (default 10 000 ms); slower clients are dropped. */
  readonly headersTimeoutMs: number
  /** Largest WebSocket message, fragments together (default 1 MiB); more closes with 1009. */
  readonly maxWsMessageBytes: number
  /** WebSocket ping interval (default 30 000 ms; a missed pong closes). */
  readonly wsPingMs: number
}

const DEFAULT_LIMITS: DaemonLimits = {
  maxPipes: 256,
  maxIncoming: 64,
  pipeBufferBytes: 1 << 20,
  maxBodyBytes: 1 << 20,
  maxPollMs: 120_000,
  connectTimeoutMs: 30_000,
  maxConnections: 128,
  maxWebSockets: 64,
  maxHeaders: 64,
  headersTimeoutMs: 10_000,
  maxWsMessageBytes: 1 << 20,
  wsPingMs: 30_000,
}

/** A running daemon. */
export interface Daemon {
  /** `http://host:port` to reach it. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Stops serving, closes every pipe and WebSocket; idempotent. */
  close(): Promise<void>
}

const WS_ROUTE = /^\/pipes\/([^/]{1,100})\/ws$/

/**
 * Serves the REST + WebSocket API of `options.node` on `http://host:port`. Every request needs
 * `Authorization: Bearer <token>` (a WebSocket may carry it as `?token=` or the subprotocol
 * `p2pd.token.<token>`); a browser `Origin` must be listed in `cors`. See `GET /openapi.json`.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { node, token } = options
  if (typeof token !== 'string' || token.length < 16) {
    throw new DaemonError('DAEMON_TOKEN', 'the token must have at least 16 characters')
  }
  // The node must be started: `addressText` throws NODE_NOT_STARTED before anything listens.
  if (!node.addressText) throw new DaemonError('DAEMON_NODE', 'the node has no address')
  const limits: DaemonLimits = { ...DEFAULT_LIMITS, ...options.limits }
  const lifetime = linkSignals(options.signal)
  const allowed = new Set(options.cors ?? [])
  const host = options.host ?? '127.0.0.1'
  const hosts = new HostPolicy(host, options.allowedHosts)
  const table = new PipeTable(limits.maxPipes, limits.maxIncoming, limits.pipeBufferBytes)
  const sockets = new Set<WebSocketConnection>()
  const state: ApiState = {
    node,
    table,
    startedAt: performance.now(),
    version: options.version ?? '0.0.0',
    acceptsIncoming: options.incoming ?? false,
    maxBody: limits.maxBodyBytes,
    maxPollMs: limits.maxPollMs,
    connectTimeoutMs: limits.connectTimeoutMs,
  }
  // Longest request: a long-poll or a connect at its bound, plus reading the body.
  const requestMs = Math.max(limits.maxPollMs, 120_000) + 10_000

  const server = createServer({
    requestTimeout: Math.max(30_000, limits.headersTimeoutMs), // the whole request (headers and body)
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: 5_000,
    maxHeaderSize: 16_384,
    // How often the two timeouts above are enforced (Node's default, 30 s, let a slow client
    // hold its connection three times longer than the headers timeout).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs)),
  })
  server.maxConnections = limits.maxConnections
  // Node would silently drop header lines past its count (an Origin among them); instead every
  // line is kept (maxHeaderSize bounds their bytes) and too many is a 431.
  server.maxHeadersCount = 0
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\n\r\n`)
      setTimeout(() => socket.destroy(), 1_000).unref()
    } else socket.destroy()
  })

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const deadline = new Deadline(requestMs, lifetime.signal, 'request')
    res.once('close', () => deadline.abort())
    let headers: Record<string, string> = {}
    void (async () => {
      checkHeaders(req, limits.maxHeaders, hosts)
      const url = requestUrl(req)
      headers = corsHeaders(req, allowed)
      if (req.method === 'OPTIONS' && req.headers.origin !== undefined) {
        // A CORS preflight (allowed origin, see corsHeaders): browsers send it without a token.
        res.writeHead(204, { ...headers, ...PREFLIGHT_HEADERS })
        res.end()
        return
      }
      checkToken(req, url, token, false)
      const path = url.pathname
      const matching = ROUTES.filter((r) => r.path.test(path))
      if (matching.length === 0)
        throw new HttpError(404, 'NOT_FOUND', `no route ${path.slice(0, 100)}`)
      const route = matching.find((r) => r.method === req.method)
      if (!route) {
        headers = { ...headers, allow: matching.map((r) => r.method).join(', ') }
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here`)
      }
      const id = decodeURIComponent(route.path.exec(path)?.[1] ?? '')
      const ctx: RouteContext = { req, res, url, id, signal: deadline.signal, headers }
      await route.run(state, ctx)
    })()
      .catch((err: unknown) => {
        if (err instanceof HttpError && err.status === 413) res.setHeader('connection', 'close')
        if (res.headersSent) res.destroy()
        else if (isP2pdError(err, 'ABORTED') && res.destroyed) return
        else
          sendError(
            res,
            err instanceof URIError ? new HttpError(400, 'BAD_REQUEST', 'bad path') : err,
            headers,
          )
      })
      .finally(() => deadline.dispose())
  })

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    try {
      checkHeaders(req, limits.maxHeaders, hosts)
      const url = requestUrl(req)
      corsHeaders(req, allowed)
      checkToken(req, url, token, true)
      const m = WS_ROUTE.exec(url.pathname)
      if (!m) throw new HttpError(404, 'NOT_FOUND', 'WebSocket only at /pipes/{id}/ws')
      const key = checkUpgrade(req)
      const id = decodeURIComponent(m[1] as string)
      const entry = table.get(id)
      if (entry.info().websocket)
        throw new HttpError(409, 'PIPE_IN_USE', 'a WebSocket already holds this pipe')
      if (sockets.size >= limits.maxWebSockets) {
        throw new HttpError(503, 'TOO_MANY_WEBSOCKETS', `${sockets.size} WebSockets are open`)
      }
      const offered = offeredProtocols(req)
      const proto = offered.includes(PROTOCOL)
        ? PROTOCOL
        : offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
          (proto ? `Sec-WebSocket-Protocol: ${proto}\r\n` : '') +
          '\r\n',
      )
      const ws = new WebSocketConnection(socket, head, {
        maxMessage: limits.maxWsMessageBytes,
        pingIntervalMs: limits.wsPingMs,
        closeTimeoutMs: 5_000,
      })
      sockets.add(ws)
      entry.attach(ws, () => {
        sockets.delete(ws)
        if (table.list().includes(entry)) void table.remove(id).catch(() => {})
      })
    } catch (err) {
      refuseUpgrade(
        socket,
        err instanceof URIError ? new HttpError(400, 'BAD_REQUEST', 'bad path') : err,
      )
    }
  })

  // Inbound pipes: announced on GET /incoming, or closed when the daemon does not take them.
  void (async () => {
    for (;;) {
      const pipe = await node.accept({ signal: lifetime.signal })
      pipe.on('error', () => {})
      if (!state.acceptsIncoming) {
        void pipe.close().catch(() => {})
        continue
      }
      try {
        table.add(pipe, 'inbound')
      } catch {
        void pipe.close().catch(() => {})
      }
    }
  })().catch(() => {}) // ends with the daemon (ABORTED) or the node (NODE_STOPPED)

  const listening = new Deadline(10_000, lifetime.signal, 'daemon listen')
  try {
    server.listen(options.port ?? DEFAULT_DAEMON_PORT, host)
    await listening.race(once(server, 'listening'))
  } catch (err) {
    lifetime.abort()
    server.close()
    throw new DaemonError('DAEMON_LISTEN', `cannot listen on ${host}: ${(err as Error).message}`, {
      cause: err,
    })
  } finally {
    listening.dispose()
  }
  const port = (server.address() as AddressInfo).port
  hosts.port = port
  let closing: Promise<void> | undefined
  const close = () => {
    if (closing) return closing
    let release = () => {}
    closing = new Promise<void>((r) => {
      release = r
    })
    void (async () => {
      lifetime.abort()
      for (const ws of sockets) ws.close(CloseCode.GoingAway, 'daemon stopping')
      await table.closeAll()
      server.close()
      server.closeAllConnections()
      const done = new Deadline(5_000, undefined, 'daemon close')
      await done.race(once(server, 'close')).catch(() => {})
      done.dispose()
    })().finally(release)
    return closing
  }
  lifetime.signal.addEventListener('abort', () => void close(), { once: true })
  const shown = host.includes(':') ? `[${host}]` : host
  return { url: `http://${shown}:${port}`, host, port, close }
}

/** 421 for a foreign `Host` (DNS rebinding), 431 for too many header lines. */
function checkHeaders(req: IncomingMessage, maxHeaders: number, hosts: HostPolicy): void {
  if (req.rawHeaders.length / 2 > maxHeaders) {
    throw new HttpError(431, 'TOO_MANY_HEADERS', `more than ${maxHeaders} header lines`)
  }
  hosts.check(req)
}

/** The request's URL; 400 when it does not parse. */
function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://daemon')
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'bad request target')
  }
}

/** Answers a refused upgrade with a plain HTTP error and drops the socket. */
function refuseUpgrade(socket: Duplex, err: unknown): void {
  const e = err instanceof HttpError ? err : new HttpError(500, 'INTERNAL', 'internal error')
  const body = JSON.stringify({ error: { code: e.code, message: e.message } })
  const extra = e.status === 426 ? 'sec-websocket-version: 13\r\n' : ''
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `${extra}connection: close\r\n\r\n${body}`,
    )
  }
  setTimeout(() => socket.destroy(), 1_000).unref()
}
