import { createServer, type Server, type Socket } from 'node:net'
import { abortReason, type RawConnection } from '@p2pd/interface'
import { NodeError } from './errors.js'
import { ConnectionKind, readPreamble } from './preamble.js'

export interface ListenerEvents {
  /** A `direct` dial: the node runs the secure channel as responder. */
  onDirect(raw: RawConnection): void
  /** Errors of single connections (bad preamble, unknown token): logged, never thrown. */
  onReject(reason: string): void
}

/**
 * The node's TCP listener. Reads each connection's preamble (bounded by a deadline) and
 * routes it: `reverse` dials go to whoever is waiting for their token, `direct` dials to the
 * node. Unknown tokens and junk are closed at once.
 */
export class Listener {
  readonly #server: Server
  readonly #waiting = new Map<string, (raw: RawConnection) => void>()
  readonly #sockets = new Set<Socket>()
  readonly #events: ListenerEvents
  readonly #preambleTimeoutMs: number

  constructor(events: ListenerEvents, preambleTimeoutMs = 5_000) {
    this.#events = events
    this.#preambleTimeoutMs = preambleTimeoutMs
    this.#server = createServer((socket) => this.#route(socket))
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off('error', reject)
        const a = this.#server.address()
        if (!a || typeof a === 'string') return reject(new NodeError('NODE_LISTEN', 'no address'))
        resolve({ host: a.address, port: a.port })
      })
    })
  }

  /** Resolves with the connection that presents `token`; rejects when `signal` aborts. */
  expect(token: string, signal: AbortSignal): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(signal))
      const onAbort = () => {
        this.#waiting.delete(token)
        reject(abortReason(signal))
      }
      this.#waiting.set(token, (raw) => {
        signal.removeEventListener('abort', onAbort)
        resolve(raw)
      })
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  async #route(socket: Socket): Promise<void> {
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    socket.setNoDelay(true)
    socket.on('error', () => {})
    const raw = (): RawConnection => ({
      stream: socket,
      local: { host: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      remote: { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      relayed: false,
      initiator: false,
    })
    try {
      const preamble = await readPreamble(socket, AbortSignal.timeout(this.#preambleTimeoutMs))
      if (preamble.kind === ConnectionKind.Direct) return this.#events.onDirect(raw())
      const waiter = this.#waiting.get(preamble.token)
      if (preamble.kind !== ConnectionKind.Reverse || !waiter) {
        throw new NodeError('NODE_UNEXPECTED', 'connection with an unknown token')
      }
      this.#waiting.delete(preamble.token)
      waiter(raw())
    } catch (err) {
      socket.destroy()
      this.#events.onReject((err as Error).message)
    }
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
