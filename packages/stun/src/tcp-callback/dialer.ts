import { connect } from 'node:net'
import type { Endpoint } from '@p2pd/interface'
import type { TcpCallbackOutcome, TcpCallbackRequest, TcpCallbackResult } from './attributes.js'

/** Bounds on the SYNs a server sends for TCP-CALLBACK requests. */
export interface TcpCallbackLimits {
  /** Dials in flight at once, all sources (default 32). */
  readonly maxInFlight?: number
  /** Dials in flight at once per source IP (default 4: one discovery makes 3 at once). */
  readonly maxPerSource?: number
}

/**
 * Dials back a client for TCP-CALLBACK. Each request costs the server one SYN to the IP that
 * just completed a TCP handshake with it (so not spoofed, and never a third party's IP), at its
 * mapped port or a port it names, with a bounded wait; dials in flight are capped in total and
 * per source IP, and the rest are answered `limited` at once.
 */
export class TcpCallbackDialer {
  readonly #maxInFlight: number
  readonly #maxPerSource: number
  readonly #perSource = new Map<string, number>()
  readonly #sockets = new Set<ReturnType<typeof connect>>()
  #inFlight = 0
  #closed = false

  constructor(limits: TcpCallbackLimits = {}) {
    this.#maxInFlight = limits.maxInFlight ?? 32
    this.#maxPerSource = limits.maxPerSource ?? 4
  }

  /**
   * Dials `to` from `fromHost` (port chosen by the OS, so never the server's listening port)
   * and reports what happened. Never rejects.
   */
  dial(to: Endpoint, fromHost: string, req: TcpCallbackRequest): Promise<TcpCallbackResult> {
    const started = performance.now()
    const done = (outcome: TcpCallbackOutcome): TcpCallbackResult => ({
      outcome,
      elapsedMs: performance.now() - started,
    })
    const mine = this.#perSource.get(to.host) ?? 0
    if (this.#closed || this.#inFlight >= this.#maxInFlight || mine >= this.#maxPerSource) {
      return Promise.resolve(done('limited'))
    }
    this.#inFlight++
    this.#perSource.set(to.host, mine + 1)
    return new Promise<TcpCallbackResult>((resolve) => {
      const socket = connect({ host: to.host, port: to.port, localAddress: fromHost })
      this.#sockets.add(socket)
      let settled = false
      const finish = (outcome: TcpCallbackOutcome) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        this.#sockets.delete(socket)
        this.#inFlight--
        const left = (this.#perSource.get(to.host) ?? 1) - 1
        if (left > 0) this.#perSource.set(to.host, left)
        else this.#perSource.delete(to.host)
        resolve(done(outcome))
      }
      const timer = setTimeout(() => finish('timeout'), req.timeoutMs)
      socket.once('connect', () => finish('connected'))
      socket.once('error', (err: NodeJS.ErrnoException) => finish(outcomeOf(err.code)))
      socket.once('close', () => finish('timeout'))
    })
  }

  /** Aborts every dial in flight (their requests answer `timeout`). */
  close(): void {
    this.#closed = true
    for (const s of this.#sockets) s.destroy()
  }
}

function outcomeOf(code: string | undefined): TcpCallbackOutcome {
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'refused'
  if (code === 'ETIMEDOUT') return 'timeout'
  return 'unreachable'
}
