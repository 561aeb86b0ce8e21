import { setMaxListeners } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { abortReason, Deadline, type RawConnection } from '@p2pd/interface'
import { Admission } from './admission.js'
import { NodeError } from './errors.js'
import type { InboundAttempt } from './inbound-attempt.js'
import { type ResolvedInboundLimits, resolveInboundLimits } from './inbound-limits.js'
import { InboundCounters, type InboundStats } from './inbound-stats.js'
import { ConnectionKind, readPreamble } from './preamble.js'

export interface ListenerEvents {
  /**
   * A `direct` dial: the node runs the secure channel as responder, within `attempt`'s
   * deadlines, and ends the attempt (`complete()` once nominated, `fail()` otherwise).
   */
  onDirect(raw: RawConnection, attempt: InboundAttempt): void
  /** Errors of single connections (bad preamble, unknown token): logged, never thrown. */
  onReject(reason: string): void
}

/**
 * The node's TCP listener. Admits each connection (see {@link Admission}), reads its preamble
 * under a deadline and routes it: `reverse` dials go to whoever is waiting for their token,
 * `direct` dials to the node. Unknown tokens and junk are closed at once.
 */
export class Listener {
  readonly #server: Server
  readonly #waiting = new Map<string, (raw: RawConnection) => void>()
  readonly #sockets = new Set<Socket>()
  readonly #events: ListenerEvents
  readonly #limits: ResolvedInboundLimits
  readonly #counters = new InboundCounters()
  readonly #admission: Admission
  readonly #closing: Deadline

  /** `parent`: the node's lifetime; its abort closes every pending attempt, as `close()` does. */
  constructor(
    events: ListenerEvents,
    limits: ResolvedInboundLimits = resolveInboundLimits(),
    parent?: AbortSignal,
  ) {
    this.#events = events
    this.#limits = limits
    this.#closing = new Deadline(Number.POSITIVE_INFINITY, parent, 'listener')
    // Each pending attempt listens here until it settles; the admission cap bounds how many.
    if (Number.isFinite(limits.maxPending))
      setMaxListeners(limits.maxPending + 10, this.#closing.signal)
    else setMaxListeners(0, this.#closing.signal)
    this.#admission = new Admission(limits, this.#counters)
    this.#server = createServer((socket) => this.#route(socket))
    // A backstop under the admission caps: inbound sockets of any kind (pipes included) never
    // take the last half of the fd reserve. Node drops the excess at accept time.
    if (Number.isFinite(limits.fdLimit)) {
      this.#server.maxConnections = Math.max(1, limits.fdLimit - Math.ceil(limits.fdReserve / 2))
    }
    this.#server.on('drop', () => this.#counters.refused.fdBudget++)
  }

  /** The resolved limits (defaults applied). */
  get limits(): ResolvedInboundLimits {
    return this.#limits
  }

  /** What happened to inbound connections so far. */
  get stats(): InboundStats {
    return this.#counters.snapshot(this.#admission.pending)
  }

  /** Where the node counts the stages it runs itself (handshake, nomination). */
  get counters(): InboundCounters {
    return this.#counters
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
    socket.on('error', () => {})
    const attempt = this.#admission.admit(socket, this.#closing.signal)
    if (!attempt) return
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    socket.setNoDelay(true)
    const raw = (): RawConnection => ({
      stream: socket,
      local: { host: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      remote: { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      relayed: false,
      initiator: false,
    })
    try {
      const preamble = await attempt.run('preamble', this.#limits.preambleTimeoutMs, (signal) =>
        readPreamble(socket, signal),
      )
      if (preamble.kind === ConnectionKind.Direct) return this.#events.onDirect(raw(), attempt)
      const waiter = this.#waiting.get(preamble.token)
      if (preamble.kind !== ConnectionKind.Reverse || !waiter) {
        throw new NodeError('NODE_UNEXPECTED', 'connection with an unknown token')
      }
      this.#waiting.delete(preamble.token)
      // The token was secret and one-shot; the waiting connect() bounds the rest.
      attempt.complete()
      waiter(raw())
    } catch (err) {
      attempt.fail(err)
      this.#events.onReject((err as Error).message)
    }
  }

  async close(): Promise<void> {
    this.#closing.abort()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
