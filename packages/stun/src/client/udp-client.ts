import { createSocket, type Socket } from 'node:dgram'
import { abortReason, type Endpoint, TimeoutError, throwIfAborted } from '@p2pd/interface'
import {
  decodeMessage,
  type EncodeOptions,
  encodeMessage,
  type StunMessage,
} from '../codec/message.js'
import { StunError } from '../errors.js'
import { ipFamily, sameEndpoint } from '../ip.js'
import {
  type BindingOptions,
  type BindingResult,
  bindingRequest,
  bindingResult,
  bindingSourceCheck,
  type RetransmitOptions,
  type TransactionOptions,
  type TransactionResult,
} from './binding.js'
import { PendingTable } from './pending.js'
import { resolveServer } from './resolve.js'

export interface StunUdpClientOptions {
  /** Local IP to bind (default `0.0.0.0`, or `::` for `type: 'udp6'`). */
  readonly localAddress?: string
  /** Local port to bind (default 0: any). */
  readonly localPort?: number
  /** Socket type; default from `localAddress`, else `udp4`. */
  readonly type?: 'udp4' | 'udp6'
  /**
   * Use this already bound socket instead of opening one (it is not closed by `close()`). Its
   * other traffic keeps flowing; STUN responses to our transactions are consumed.
   */
  readonly socket?: Socket
  /** Called with every datagram that answers none of our transactions (TURN data, noise…). */
  readonly onUnmatched?: (data: Buffer, from: Endpoint) => void
  readonly signal?: AbortSignal
}

export type UdpTransactionOptions = TransactionOptions & RetransmitOptions

/**
 * STUN over UDP from one local socket, to any number of servers: the same socket (hence the
 * same NAT mapping) serves every destination, as RFC 5780 mapping tests need. Requests are
 * retransmitted as RFC 8489 §6.2.1 says (RTO 500 ms doubling, Rc = 7, last wait Rm × RTO),
 * all within the caller's deadline. Responses are matched on transaction id, method, class and
 * source address.
 */
export class StunUdpClient {
  readonly #socket: Socket
  readonly #ownsSocket: boolean
  readonly #pending = new PendingTable()
  readonly #onUnmatched: ((data: Buffer, from: Endpoint) => void) | undefined
  readonly #onMessage: (data: Buffer, rinfo: { address: string; port: number }) => void
  readonly #onError: (err: Error) => void
  #closed = false

  private constructor(socket: Socket, owns: boolean, opts: StunUdpClientOptions) {
    this.#socket = socket
    this.#ownsSocket = owns
    this.#onUnmatched = opts.onUnmatched
    this.#onMessage = (data, rinfo) =>
      this.#receive(data, { host: rinfo.address, port: rinfo.port })
    this.#onError = (err) => {
      this.#pending.failAll(
        new StunError('STUN_SOCKET', `UDP socket error: ${err.message}`, { cause: err }),
      )
    }
    socket.on('message', this.#onMessage)
    socket.on('error', this.#onError)
  }

  /** Opens (binds) a client socket. Throws `STUN_SOCKET` when the bind fails. */
  static async open(opts: StunUdpClientOptions = {}): Promise<StunUdpClient> {
    throwIfAborted(opts.signal)
    if (opts.socket) return new StunUdpClient(opts.socket, false, opts)
    const type =
      opts.type ?? (opts.localAddress && ipFamily(opts.localAddress) === 6 ? 'udp6' : 'udp4')
    const socket = createSocket({ type })
    const host = opts.localAddress ?? (type === 'udp6' ? '::' : '0.0.0.0')
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close()
        reject(
          new StunError(
            'STUN_SOCKET',
            `cannot bind ${host}:${opts.localPort ?? 0}: ${err.message}`,
            { cause: err },
          ),
        )
      }
      socket.once('error', onError)
      socket.bind(opts.localPort ?? 0, host, () => {
        socket.off('error', onError)
        resolve()
      })
    })
    return new StunUdpClient(socket, true, opts)
  }

  /** The socket's local address. */
  get local(): Endpoint {
    const a = this.#socket.address()
    return { host: a.address, port: a.port }
  }

  /** The underlying socket (e.g. to reuse the mapping for a hole punch or TURN). */
  get socket(): Socket {
    return this.#socket
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Number of transactions waiting for a response. */
  get pending(): number {
    return this.#pending.size
  }

  /**
   * Sends a request and waits for its response (success or error class), retransmitting as
   * configured. `server` may be a host name (resolved with the deadline). Throws `STUN_NO_RESPONSE`
   * after the last retransmission, `TimeoutError` at the deadline, `AbortError` on abort,
   * `STUN_SOCKET`, `STUN_CLOSED`.
   */
  async transact(
    server: string | Endpoint,
    message: StunMessage,
    opts: UdpTransactionOptions = {},
  ): Promise<TransactionResult> {
    if (this.#closed) throw new StunError('STUN_CLOSED', 'client is closed')
    throwIfAborted(opts.signal)
    const started = performance.now()
    const timeoutMs = opts.timeoutMs ?? 5000
    const to = await resolveServer(server, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      timeoutMs,
    })
    const bytes = encodeMessage(message, opts.encode)
    const expect = opts.expectFrom ?? to
    const accepts =
      expect === 'any'
        ? () => true
        : typeof expect === 'function'
          ? expect
          : (from: Endpoint) => sameEndpoint(from, expect)
    const remaining = Math.max(0, timeoutMs - (performance.now() - started))
    return this.#run(to, message, bytes, accepts, remaining, opts)
  }

  /**
   * One transaction: a retransmission timer and a deadline timer, both plain timers cleared
   * when the transaction settles (cheaper per request than a composite signal, and GC-safe).
   */
  #run(
    to: Endpoint,
    message: StunMessage,
    bytes: Buffer,
    accepts: (from: Endpoint) => boolean,
    timeoutMs: number,
    opts: UdpTransactionOptions,
  ): Promise<TransactionResult> {
    if (this.#pending.has(message)) {
      return Promise.reject(new StunError('STUN_BAD_INPUT', 'transaction id already in use'))
    }
    const signal = opts.signal
    const rto = opts.rtoMs ?? 500
    const maxRequests = Math.max(1, opts.maxRequests ?? 7)
    const lastWait = (opts.lastWaitFactor ?? 16) * rto
    return new Promise<TransactionResult>((resolve, reject) => {
      let sent = 0
      let settled = false
      let timer: NodeJS.Timeout | undefined
      const started = performance.now()
      const finish = () => {
        settled = true
        clearTimeout(timer)
        clearTimeout(deadline)
        signal?.removeEventListener('abort', onAbort)
        remove()
      }
      const fail = (err: Error) => {
        finish()
        reject(err)
      }
      const onAbort = () => fail(abortReason(signal as AbortSignal))
      // Silence counts only once the input already queued has been read: a starved event loop
      // runs its expired timers before it polls the socket, and a response waiting there would
      // turn into a timeout (in NAT classification, a filter read stricter than it is).
      const afterInput = (err: () => Error) => () =>
        setImmediate(() => {
          if (!settled) fail(err())
        })
      const deadline = setTimeout(
        afterInput(() => new TimeoutError(`STUN transaction to ${to.host}:${to.port} timed out`)),
        timeoutMs,
      )
      const send = () => {
        sent++
        this.#socket.send(bytes, to.port, to.host, (err) => {
          if (err) {
            fail(
              new StunError('STUN_SOCKET', `cannot send to ${to.host}:${to.port}: ${err.message}`, {
                cause: err,
              }),
            )
          }
        })
        timer =
          sent < maxRequests
            ? setTimeout(send, rto * 2 ** (sent - 1))
            : setTimeout(
                afterInput(
                  () =>
                    new StunError(
                      'STUN_NO_RESPONSE',
                      `no response from ${to.host}:${to.port} after ${sent} requests`,
                    ),
                ),
                lastWait,
              )
      }
      const remove = this.#pending.add(message, {
        method: message.method,
        cookie: message.cookie,
        accepts,
        deliver: (response, from) => {
          finish()
          resolve({ response, from, rttMs: performance.now() - started, requests: sent })
        },
        fail,
      })
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      send()
    })
  }

  /**
   * Sends a Binding request to `server` and returns the mapped address and everything else the
   * response said (OTHER-ADDRESS, RESPONSE-ORIGIN…). With `changeRequest`, the response is
   * expected from the changed address (override with `expectFrom`).
   */
  async binding(
    server: string | Endpoint,
    opts: BindingOptions & RetransmitOptions = {},
  ): Promise<BindingResult> {
    if (this.#closed) throw new StunError('STUN_CLOSED', 'client is closed')
    const started = performance.now()
    const timeoutMs = opts.timeoutMs ?? 5000
    const to = await resolveServer(server, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      timeoutMs,
    })
    const { message, encode } = bindingRequest(opts)
    const tx = await this.transact(to, message, {
      ...opts,
      timeoutMs: Math.max(0, timeoutMs - (performance.now() - started)),
      encode: opts.encode ?? encode,
      expectFrom: opts.expectFrom ?? bindingSourceCheck(to, opts.changeRequest),
    })
    return bindingResult(tx, this.local, to)
  }

  /** Sends raw bytes from this socket (indications, ChannelData, keep-alives). */
  send(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#closed) return Promise.reject(new StunError('STUN_CLOSED', 'client is closed'))
    return new Promise((resolve, reject) => {
      this.#socket.send(data, to.port, to.host, (err) =>
        err
          ? reject(new StunError('STUN_SOCKET', `cannot send: ${err.message}`, { cause: err }))
          : resolve(),
      )
    })
  }

  /** Encodes and sends a message without waiting for anything (indications, responses). */
  sendMessage(message: StunMessage, to: Endpoint, encode?: EncodeOptions): Promise<void> {
    return this.send(encodeMessage(message, encode), to)
  }

  /** Fails the pending transactions with `STUN_CLOSED` and closes the socket (if ours). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#pending.failAll(new StunError('STUN_CLOSED', 'client closed'))
    this.#socket.off('message', this.#onMessage)
    this.#socket.off('error', this.#onError)
    if (this.#ownsSocket) await new Promise<void>((resolve) => this.#socket.close(() => resolve()))
  }

  #receive(data: Buffer, from: Endpoint): void {
    // Only datagrams shaped like STUN are decoded; the rest go straight to onUnmatched.
    if (data.length >= 20 && ((data[0] as number) & 0xc0) === 0 && this.#pending.size > 0) {
      try {
        const msg = decodeMessage(data, { allowLegacy: true })
        if (this.#pending.dispatch(msg, from)) return
      } catch (err) {
        if (!(err instanceof StunError)) throw err
      }
    }
    this.#onUnmatched?.(data, from)
  }
}
