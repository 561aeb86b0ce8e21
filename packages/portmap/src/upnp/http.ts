import { type Agent, request as httpRequest } from 'node:http'
import { abortReason } from '@p2pd/interface'
import { PortMapError } from '../errors.js'

/**
 * The one HTTP exchange the UPnP client needs: a request to the gateway's web server with a
 * deadline and a bounded response. Plain `http:` only (UPnP IGD has no TLS); no redirects.
 */

/** What came back, with the two socket addresses the client learns from. */
export interface HttpExchange {
  readonly status: number
  /** The body, decoded as UTF-8 (bad sequences become U+FFFD). */
  readonly body: string
  /** Our address on the connection: the LAN address the gateway sees. */
  readonly localAddress: string
  /** The server's address on the connection (an IP, even if the URL named a host). */
  readonly remoteAddress: string
}

export interface HttpExchangeOptions {
  readonly method: 'GET' | 'POST'
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  readonly agent: Agent
  /** Aborts the exchange; its reason is what the promise rejects with. */
  readonly signal: AbortSignal
  /** Responses with a larger body are `PORTMAP_MALFORMED`. */
  readonly maxBodyBytes: number
}

/** Bound on the response head; Node's default is 16 KiB, a gateway needs far less. */
const MAX_HEADER_BYTES = 8 * 1024

/**
 * Sends one HTTP request and reads the whole response, whatever its status.
 *
 * @throws {@link PortMapError} `PORTMAP_NETWORK` (connection, socket or HTTP framing failure),
 *   `PORTMAP_MALFORMED` (body over `maxBodyBytes`); the signal's `TimeoutError`/`AbortError`.
 */
export function httpExchange(url: URL, options: HttpExchangeOptions): Promise<HttpExchange> {
  const { method, signal, maxBodyBytes } = options
  const target = `${method} ${url.href}`
  return new Promise<HttpExchange>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal))
      return
    }
    let settled = false
    const settle = (action: () => void) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      action()
    }
    const fail = (err: Error) => {
      settle(() => reject(err))
      req.destroy()
    }
    const networkError = (err: Error) =>
      new PortMapError('PORTMAP_NETWORK', `${target}: ${err.message}`, { cause: err })
    const payload = options.body === undefined ? undefined : Buffer.from(options.body, 'utf8')
    const req = httpRequest(url, {
      method,
      agent: options.agent,
      maxHeaderSize: MAX_HEADER_BYTES,
      headers: {
        ...options.headers,
        ...(payload ? { 'Content-Length': String(payload.length) } : {}),
        Connection: 'close',
      },
    })
    const onAbort = () => fail(abortReason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err) => fail(networkError(err)))
    req.on('response', (res) => {
      // Read now: once the server closes the connection the socket forgets its addresses.
      const localAddress = plainIpv4(res.socket.localAddress ?? '')
      const remoteAddress = plainIpv4(res.socket.remoteAddress ?? '')
      const declared = Number(res.headers['content-length'])
      if (declared > maxBodyBytes) {
        fail(tooLarge(target, `${declared} bytes`, maxBodyBytes))
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBodyBytes) fail(tooLarge(target, `over ${maxBodyBytes} bytes`, maxBodyBytes))
        else chunks.push(chunk)
      })
      res.on('error', (err) => fail(networkError(err)))
      res.on('close', () => {
        if (!res.complete) fail(networkError(new Error('connection closed before the body ended')))
      })
      res.on('end', () => {
        const body = new TextDecoder('utf-8').decode(Buffer.concat(chunks))
        settle(() => resolve({ status: res.statusCode ?? 0, body, localAddress, remoteAddress }))
      })
    })
    req.end(payload)
  })
}

function tooLarge(target: string, size: string, max: number): PortMapError {
  return new PortMapError('PORTMAP_MALFORMED', `${target}: response body ${size} exceeds ${max}`)
}

/** `::ffff:10.0.0.1` → `10.0.0.1`, so addresses compare equal to what the user gave. */
export function plainIpv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
