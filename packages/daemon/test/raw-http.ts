import { once } from 'node:events'
import { connect, type Socket } from 'node:net'

/** What a raw exchange got back. */
export interface RawAnswer {
  /** The status code of the first answer, 0 when the server closed without one. */
  readonly status: number
  readonly head: string
  readonly body: string
  /** When the server closed the connection, ms after the request started (-1: still open). */
  readonly closedAfterMs: number
}

/** Opens a plain TCP connection to the daemon (for requests `fetch` would not send). */
export async function rawSocket(port: number): Promise<Socket> {
  const sock = connect(port, '127.0.0.1')
  sock.on('error', () => {})
  await once(sock, 'connect')
  return sock
}

/**
 * Writes `text` as is and collects what comes back until the server closes or `waitMs`
 * passes; then the socket is destroyed.
 */
export async function rawExchange(port: number, text: string, waitMs = 10_000): Promise<RawAnswer> {
  const sock = await rawSocket(port)
  const t0 = performance.now()
  let buf = ''
  let closedAfterMs = -1
  sock.setEncoding('latin1')
  sock.on('data', (d: string) => {
    buf += d
  })
  const closed = once(sock, 'close').then(() => {
    closedAfterMs = performance.now() - t0
  })
  sock.write(text)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, waitMs)))])
  clearTimeout(timer)
  sock.destroy()
  return parse(buf, closedAfterMs)
}

/** Splits the first answer in `buf` into status, head and body. */
export function parse(buf: string, closedAfterMs = -1): RawAnswer {
  const end = buf.indexOf('\r\n\r\n')
  const head = end < 0 ? buf : buf.slice(0, end)
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
  return { status, head, body: end < 0 ? '' : buf.slice(end + 4), closedAfterMs }
}

/** A GET request with these header lines (no Host added). */
export function getRequest(path: string, lines: readonly string[], version = '1.1'): string {
  return `GET ${path} HTTP/${version}\r\n${lines.map((l) => `${l}\r\n`).join('')}connection: close\r\n\r\n`
}
