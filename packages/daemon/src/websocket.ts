import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { HttpError } from './errors.js'
import {
  CloseCode,
  closePayload,
  encodeFrame,
  FrameDecoder,
  Opcode,
  parseClosePayload,
  WsProtocolError,
} from './ws-frame.js'

// A minimal RFC 6455 server endpoint: the opening handshake, message assembly from fragments,
// ping/pong keep-alive and the closing handshake. Binary pipes are all the daemon needs.

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(`${key}${GUID}`).digest('base64')
}

const headerHas = (value: string | undefined, token: string) =>
  (value ?? '')
    .toLowerCase()
    .split(',')
    .some((v) => v.trim() === token)

/**
 * Checks an upgrade request against RFC 6455 §4.2.1 and returns the client's key; throws an
 * {@link HttpError} (400, or 426 for another protocol version) otherwise.
 */
export function checkUpgrade(req: IncomingMessage): string {
  if (req.method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'WebSocket needs GET')
  if (
    !headerHas(req.headers.upgrade, 'websocket') ||
    !headerHas(req.headers.connection, 'upgrade')
  ) {
    throw new HttpError(400, 'BAD_UPGRADE', 'expected Upgrade: websocket, Connection: Upgrade')
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    throw new HttpError(426, 'BAD_UPGRADE', 'Sec-WebSocket-Version must be 13')
  }
  const key = req.headers['sec-websocket-key']
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    throw new HttpError(400, 'BAD_UPGRADE', 'Sec-WebSocket-Key must be 16 bytes in base64')
  }
  return key
}

/** Limits of one WebSocket connection. */
export interface WebSocketLimits {
  /** Largest message, fragments together (bytes); more closes with 1009. */
  readonly maxMessage: number
  /** How often to ping an idle client; one missed pong closes the connection (0 = never). */
  readonly pingIntervalMs: number
  /** How long to wait for the client's close frame after ours (ms). */
  readonly closeTimeoutMs: number
}

export interface WebSocketEvents {
  /** A whole binary message. */
  message: [Buffer]
  /** The connection is gone; `code` is the peer's status, 1006 when it just dropped. */
  close: [code: number, reason: string]
}

/**
 * The server side of one WebSocket over an upgraded socket. Emits whole binary messages;
 * a text message closes the connection with 1003, a protocol violation with 1002, an
 * oversized message with 1009.
 */
export class WebSocketConnection extends EventEmitter<WebSocketEvents> {
  readonly #socket: Duplex
  readonly #decoder: FrameDecoder
  readonly #limits: WebSocketLimits
  #parts: Buffer[] = []
  #partBytes = 0
  #inMessage = false
  #closeSent = false
  #closed = false
  #peerCode = 1006
  #peerReason = ''
  #alive = true
  #ping?: NodeJS.Timeout
  #closeTimer?: NodeJS.Timeout

  constructor(socket: Duplex, head: Buffer, limits: WebSocketLimits) {
    super()
    this.#socket = socket
    this.#limits = limits
    this.#decoder = new FrameDecoder({ maxPayload: limits.maxMessage, requireMask: true })
    socket.on('data', (d: Buffer) => this.#onData(d))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.#onClose())
    socket.on('end', () => socket.end())
    if (limits.pingIntervalMs > 0) {
      this.#ping = setInterval(() => this.#keepAlive(), limits.pingIntervalMs)
      this.#ping.unref()
    }
    if (head.length > 0) this.#onData(head)
  }

  /** Bytes queued in the socket: what `send` returning false means. */
  get bufferedAmount(): number {
    return this.#socket.writableLength
  }

  get closed(): boolean {
    return this.#closed || this.#closeSent
  }

  /** Sends one binary message; false when the socket buffer is full (wait for `drain`). */
  send(data: Uint8Array): boolean {
    if (this.closed) return false
    return this.#socket.write(encodeFrame({ opcode: Opcode.Binary, payload: data }))
  }

  /** Calls `listener` once the socket buffer drained (immediately when it is not full). */
  onDrain(listener: () => void): void {
    if (!this.#socket.writableNeedDrain) listener()
    else this.#socket.once('drain', listener)
  }

  /** Stops reading from the client (backpressure) until {@link WebSocketConnection.resume}. */
  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    this.#socket.resume()
  }

  /** Starts the closing handshake; the socket is dropped if the client does not answer. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.#closeSent || this.#closed) return
    this.#closeSent = true
    if (this.#socket.writable) {
      this.#socket.write(encodeFrame({ opcode: Opcode.Close, payload: closePayload(code, reason) }))
    }
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#limits.closeTimeoutMs)
    this.#closeTimer.unref()
  }

  #keepAlive(): void {
    if (!this.#alive) {
      this.#socket.destroy()
      return
    }
    this.#alive = false
    if (this.#socket.writable && !this.#closeSent) {
      this.#socket.write(encodeFrame({ opcode: Opcode.Ping }))
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#alive = true
    try {
      for (const frame of this.#decoder.push(chunk)) {
        this.#onFrame(frame.opcode, frame.fin, frame.payload)
        if (this.#closed || this.#socket.destroyed) return
      }
    } catch (err) {
      if (err instanceof WsProtocolError) this.#fail(err.closeCode, err.message)
      else this.#fail(CloseCode.InternalError, 'internal error')
    }
  }

  #onFrame(opcode: number, fin: boolean, payload: Buffer): void {
    switch (opcode) {
      case Opcode.Ping:
        if (!this.#closeSent) this.#socket.write(encodeFrame({ opcode: Opcode.Pong, payload }))
        return
      case Opcode.Pong:
        return
      case Opcode.Close: {
        const { code, reason } = parseClosePayload(payload)
        this.#peerCode = code ?? 1005
        this.#peerReason = reason
        if (!this.#closeSent) {
          this.#closeSent = true
          const echo = code === undefined ? Buffer.alloc(0) : closePayload(code)
          this.#socket.write(encodeFrame({ opcode: Opcode.Close, payload: echo }))
        }
        this.#socket.end()
        this.#closeTimer ??= setTimeout(() => this.#socket.destroy(), this.#limits.closeTimeoutMs)
        this.#closeTimer.unref()
        return
      }
      case Opcode.Text:
      case Opcode.Binary:
        if (this.#inMessage) {
          throw new WsProtocolError(CloseCode.ProtocolError, 'new message inside a fragmented one')
        }
        if (opcode === Opcode.Text) {
          throw new WsProtocolError(CloseCode.UnsupportedData, 'pipes carry binary messages only')
        }
        this.#inMessage = true
        break
      default: // Continuation
        if (!this.#inMessage) {
          throw new WsProtocolError(CloseCode.ProtocolError, 'continuation without a message')
        }
    }
    if (this.#closeSent) return // data after our close frame is discarded (RFC 6455 §5.5.1)
    this.#partBytes += payload.length
    if (this.#partBytes > this.#limits.maxMessage) {
      throw new WsProtocolError(CloseCode.TooBig, `message over ${this.#limits.maxMessage} bytes`)
    }
    this.#parts.push(payload)
    if (!fin) return
    const message =
      this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts)
    this.#parts = []
    this.#partBytes = 0
    this.#inMessage = false
    this.emit('message', message)
  }

  /** Closes at once on a violation: our close frame, then the socket (no more reading). */
  #fail(code: number, reason: string): void {
    this.#peerCode = code
    this.#peerReason = reason
    if (!this.#closeSent && this.#socket.writable) {
      this.#closeSent = true
      this.#socket.end(encodeFrame({ opcode: Opcode.Close, payload: closePayload(code, reason) }))
    }
    this.#socket.pause()
    this.#closeTimer ??= setTimeout(() => this.#socket.destroy(), this.#limits.closeTimeoutMs)
    this.#closeTimer.unref()
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#ping) clearInterval(this.#ping)
    if (this.#closeTimer) clearTimeout(this.#closeTimer)
    this.emit('close', this.#peerCode, this.#peerReason)
  }
}
