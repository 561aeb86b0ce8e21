import { connect, type Socket } from 'node:net'
import { abortReason, Deadline, type Endpoint, TimeoutError, throwIfAborted } from '@p2pd/interface'
import {
  decodeMessage,
  type EncodeOptions,
  encodeMessage,
  type StunMessage,
} from '../codec/message.js'
import { StunError } from '../errors.js'
import { type StunFrame, StunFramer } from '../framing.js'
import {
  type BindingOptions,
  type BindingResult,
  bindingRequest,
  bindingResult,
  type TransactionOptions,
  type TransactionResult,
} from './binding.js'
import { PendingTable } from './pending.js'
import { resolveServer } from './resolve.js'

export interface StunTcpConnectOptions {
  /** Local IP to bind before connecting. */
  readonly localAddress?: string
  /** Local port to bind before connecting (port prediction binds chosen ports). */
  readonly localPort?: number
  readonly signal?: AbortSignal
  /** Deadline for DNS + connect (default 5,000 ms). */
  readonly timeoutMs?: number
  /** Also frame TURN ChannelData (RFC 8656 over TCP); those frames go to `onUnmatched`. */
  readonly channelData?: boolean
  /** Every frame that answers none of our transactions (indications, ChannelData…). */
  readonly onUnmatched?: (frame: StunFrame) => void
}

/**
 * STUN over one TCP connection, kept open until `close()`: the NAT mapping of a live
 * connection is what TCP port prediction and punching need. Messages are cut from the stream
 * by {@link StunFramer}, so split and coalesced reads are handled; several transactions may be
 * outstanding at once. No retransmission (the transport is reliable); the deadline bounds each
 * transaction.
 */
export class StunTcpClient {
  readonly #socket: Socket
  readonly #remote: Endpoint
  readonly #pending = new PendingTable()
  readonly #framer: StunFramer
  readonly #onUnmatched: ((frame: StunFrame) => void) | undefined
  #closed = false
  #closedPromise: Promise<void>

  private constructor(socket: Socket, remote: Endpoint, opts: StunTcpConnectOptions) {
    this.#socket = socket
    this.#remote = remote
    this.#framer = new StunFramer({ channelData: opts.channelData ?? false })
    this.#onUnmatched = opts.onUnmatched
    this.#closedPromise = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('data', (chunk: Buffer) => this.#receive(chunk))
    socket.on('error', () => {}) // 'close' follows; the pending transactions learn it there
    socket.once('close', () => {
      this.#closed = true
      this.#framer.reset()
      this.#pending.failAll(new StunError('STUN_SOCKET', 'TCP connection closed'))
    })
  }

  /** Connects to `server` (host name, `host:port` or endpoint). Throws `STUN_SOCKET`. */
  static async connect(
    server: string | Endpoint,
    opts: StunTcpConnectOptions = {},
  ): Promise<StunTcpClient> {
    const deadline = new Deadline(opts.timeoutMs ?? 5000, opts.signal, 'STUN TCP connect')
    const signal = deadline.signal
    try {
      const to = await resolveServer(server, { signal })
      throwIfAborted(signal)
      const socket = await connectSocket(to, opts, signal)
      return new StunTcpClient(socket, to, opts)
    } finally {
      deadline.dispose()
    }
  }

  get local(): Endpoint {
    return { host: this.#socket.localAddress ?? '', port: this.#socket.localPort ?? 0 }
  }

  get remote(): Endpoint {
    return this.#remote
  }

  /** The underlying socket (kept open: its NAT mapping stays alive). */
  get socket(): Socket {
    return this.#socket
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Sends a request and waits for its response (success or error class). */
  transact(message: StunMessage, opts: TransactionOptions = {}): Promise<TransactionResult> {
    if (this.#closed) return Promise.reject(new StunError('STUN_CLOSED', 'connection is closed'))
    if (this.#pending.has(message)) {
      return Promise.reject(new StunError('STUN_BAD_INPUT', 'transaction id already in use'))
    }
    const signal = opts.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    const bytes = encodeMessage(message, opts.encode)
    return new Promise<TransactionResult>((resolve, reject) => {
      const started = performance.now()
      let settled = false
      const finish = () => {
        settled = true
        clearTimeout(deadline)
        signal?.removeEventListener('abort', onAbort)
        remove()
      }
      const fail = (err: Error) => {
        finish()
        reject(err)
      }
      const onAbort = () => fail(abortReason(signal as AbortSignal))
      // As over UDP: read what the connection already received before calling it a timeout
      // (a starved event loop runs expired timers before it polls the socket).
      const deadline = setTimeout(
        () =>
          setImmediate(() => {
            if (!settled) fail(new TimeoutError('STUN transaction over TCP timed out'))
          }),
        opts.timeoutMs ?? 5000,
      )
      // Over TCP the source is the connection itself; `expectFrom` is not consulted.
      const remove = this.#pending.add(message, {
        method: message.method,
        cookie: message.cookie,
        accepts: () => true,
        deliver: (response, from) => {
          finish()
          resolve({ response, from, rttMs: performance.now() - started, requests: 1 })
        },
        fail,
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#socket.write(bytes)
    })
  }

  /** Sends a Binding request on this connection and returns the mapped address. */
  async binding(opts: BindingOptions = {}): Promise<BindingResult> {
    const { message, encode } = bindingRequest(opts)
    const tx = await this.transact(message, { ...opts, encode: opts.encode ?? encode })
    return bindingResult(tx, this.local, this.#remote)
  }

  /** Writes raw bytes (already framed) to the connection. */
  send(data: Uint8Array): void {
    if (this.#closed) throw new StunError('STUN_CLOSED', 'connection is closed')
    this.#socket.write(data)
  }

  /** Encodes and writes a message without waiting for anything. */
  sendMessage(message: StunMessage, encode?: EncodeOptions): void {
    this.send(encodeMessage(message, encode))
  }

  /** Closes the connection and resolves once the socket is closed. */
  async close(): Promise<void> {
    this.#socket.destroy()
    await this.#closedPromise
  }

  #receive(chunk: Buffer): void {
    let frames: StunFrame[]
    try {
      frames = this.#framer.push(chunk)
    } catch (err) {
      this.#pending.failAll(err as Error)
      this.#socket.destroy()
      return
    }
    for (const frame of frames) {
      if (frame.kind === 'stun') {
        try {
          const msg = decodeMessage(frame.data, { allowLegacy: true })
          if (this.#pending.dispatch(msg, this.#remote)) continue
        } catch (err) {
          if (!(err instanceof StunError)) throw err
        }
      }
      this.#onUnmatched?.(frame)
    }
  }
}

/** Opens the TCP connection; destroys the socket and rejects typed when `signal` aborts. */
function connectSocket(
  to: Endpoint,
  opts: StunTcpConnectOptions,
  signal: AbortSignal,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = connect({
      host: to.host,
      port: to.port,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}),
      noDelay: true,
    })
    const done = () => {
      signal.removeEventListener('abort', onAbort)
      s.off('error', onError)
      s.off('connect', onConnect)
    }
    const onAbort = () => {
      done()
      s.destroy()
      reject(abortReason(signal))
    }
    const onError = (err: Error) => {
      done()
      s.destroy()
      reject(
        new StunError('STUN_SOCKET', `cannot connect to ${to.host}:${to.port}: ${err.message}`, {
          cause: err,
        }),
      )
    }
    const onConnect = () => {
      done()
      resolve(s)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    s.once('error', onError)
    s.once('connect', onConnect)
  })
}
