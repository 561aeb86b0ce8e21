import { connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import { abortReason, Deadline, type Endpoint, TimeoutError, throwIfAborted } from '@p2pd/interface'
import {
  type DecodedStunMessage,
  decodeMessage,
  type EncodeOptions,
  encodeMessage,
  StunClass,
  StunError,
  type StunFrame,
  StunFramer,
  type StunMessage,
  StunUdpClient,
  sameEndpoint,
  transactionKey,
} from '@p2pd/stun'
import { TurnError } from '../errors.js'

/** How we reach the TURN server. */
export type TurnTransport = 'udp' | 'tcp' | 'tls'

/** Something that arrived from the server and answers no request. */
export type Inbound =
  | { readonly kind: 'stun'; readonly message: DecodedStunMessage }
  | { readonly kind: 'channel-data'; readonly data: Buffer }

export interface TransactOptions {
  readonly signal?: AbortSignal
  readonly timeoutMs: number
  readonly encode: EncodeOptions
  /** UDP initial RTO (default 500 ms). */
  readonly rtoMs?: number
}

/**
 * The connection to one TURN server: request/response transactions (retransmitted over UDP,
 * deadline-bound everywhere), fire-and-forget sends (indications, ChannelData), and a feed of
 * what the server sends unasked. Over TCP/TLS, ChannelData is padded to 4 bytes (RFC 8656
 * §12.5) and the connection's death is reported through `onClosed`.
 */
export interface ServerConnection {
  readonly transport: TurnTransport
  readonly server: Endpoint
  readonly local: Endpoint
  transact(message: StunMessage, opts: TransactOptions): Promise<DecodedStunMessage>
  /** Sends an encoded message or a ChannelData frame (unpadded; padded here for streams). */
  send(bytes: Buffer): void
  onInbound(handler: (inbound: Inbound) => void): void
  onClosed(handler: (err: TurnError) => void): void
  close(): Promise<void>
}

function isChannelData(b: Uint8Array): boolean {
  return b.length >= 4 && ((b[0] as number) & 0xc0) === 0x40
}

/** UDP: one socket, RFC 8489 retransmissions, responses only from the server. */
export async function openUdp(
  server: Endpoint,
  opts: { localAddress?: string; signal?: AbortSignal },
): Promise<ServerConnection> {
  let inbound: ((i: Inbound) => void) | undefined
  const client = await StunUdpClient.open({
    ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    type: server.host.includes(':') ? 'udp6' : 'udp4',
    ...(opts.signal ? { signal: opts.signal } : {}),
    onUnmatched: (data, from) => {
      if (!sameEndpoint(from, server) || !inbound) return
      if (isChannelData(data)) {
        inbound({ kind: 'channel-data', data })
        return
      }
      try {
        inbound({ kind: 'stun', message: decodeMessage(data) })
      } catch (err) {
        if (!(err instanceof StunError)) throw err
      }
    },
  })
  const socket = client.socket
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024)
    socket.setSendBufferSize(4 * 1024 * 1024)
  } catch {
    // The kernel caps these; the defaults still work, just with more loss under bursts.
  }
  return {
    transport: 'udp',
    server,
    local: client.local,
    async transact(message, t) {
      try {
        const r = await client.transact(server, message, {
          ...(t.signal ? { signal: t.signal } : {}),
          timeoutMs: t.timeoutMs,
          encode: t.encode,
          ...(t.rtoMs !== undefined ? { rtoMs: t.rtoMs } : {}),
        })
        return r.response
      } catch (err) {
        throw mapStunError(err)
      }
    },
    send(bytes) {
      if (client.closed) return
      socket.send(bytes, server.port, server.host, () => {})
    },
    onInbound(handler) {
      inbound = handler
    },
    onClosed() {
      // A UDP socket has no connection to lose; dead allocations show up as 437 or timeouts.
    },
    close: () => client.close(),
  }
}

function mapStunError(err: unknown): unknown {
  if (!(err instanceof StunError)) return err
  if (err.code === 'STUN_NO_RESPONSE') {
    return new TurnError('TURN_NO_RESPONSE', err.message, { cause: err })
  }
  if (err.code === 'STUN_CLOSED') return new TurnError('TURN_CLOSED', err.message, { cause: err })
  return new TurnError('TURN_SOCKET', err.message, { cause: err })
}

/** TCP or TLS: one connection, framed by {@link StunFramer} (STUN + ChannelData). */
export async function openStream(
  server: Endpoint,
  opts: {
    transport: 'tcp' | 'tls'
    localAddress?: string
    tls?: ConnectionOptions
    signal?: AbortSignal
    timeoutMs?: number
  },
): Promise<ServerConnection> {
  const deadline = new Deadline(
    opts.timeoutMs ?? 5000,
    opts.signal,
    `TURN ${opts.transport} connect to ${server.host}:${server.port}`,
  )
  try {
    return await connectStream(server, opts, deadline.signal)
  } finally {
    deadline.dispose()
  }
}

/** {@link openStream} under its deadline: `signal` bounds the connect only. */
async function connectStream(
  server: Endpoint,
  opts: { transport: 'tcp' | 'tls'; localAddress?: string; tls?: ConnectionOptions },
  signal: AbortSignal,
): Promise<ServerConnection> {
  throwIfAborted(signal)
  const socket = await new Promise<Socket>((resolve, reject) => {
    const base = {
      host: server.host,
      port: server.port,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    }
    const s: Socket =
      opts.transport === 'tls'
        ? tlsConnect({ ...base, ...opts.tls })
        : netConnect({ ...base, noDelay: true })
    const ready = opts.transport === 'tls' ? 'secureConnect' : 'connect'
    const done = () => {
      signal.removeEventListener('abort', onAbort)
      s.off('error', onError)
      s.off(ready, onReady)
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
        new TurnError(
          'TURN_SOCKET',
          `cannot connect to ${server.host}:${server.port}: ${err.message}`,
          {
            cause: err,
          },
        ),
      )
    }
    const onReady = () => {
      done()
      resolve(s)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    s.once('error', onError)
    s.once(ready, onReady)
  })
  if (opts.transport === 'tls') socket.setNoDelay(true)
  const framer = new StunFramer({ channelData: true })
  const pending = new Map<
    string,
    { method: number; resolve: (m: DecodedStunMessage) => void; reject: (e: Error) => void }
  >()
  let inbound: ((i: Inbound) => void) | undefined
  let onClosed: ((err: TurnError) => void) | undefined
  let closing = false
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const failAll = (err: Error) => {
    const all = [...pending.values()]
    pending.clear()
    for (const p of all) p.reject(err)
  }
  socket.on('error', () => {}) // 'close' follows
  socket.once('close', () => {
    const err = new TurnError('TURN_ALLOCATION_LOST', 'the connection to the TURN server closed')
    failAll(err)
    if (!closing) onClosed?.(err)
  })
  socket.on('data', (chunk: Buffer) => {
    let frames: StunFrame[]
    try {
      frames = framer.push(chunk)
    } catch {
      socket.destroy()
      return
    }
    for (const f of frames) {
      if (f.kind === 'channel-data') {
        inbound?.({ kind: 'channel-data', data: f.data })
        continue
      }
      let msg: DecodedStunMessage
      try {
        msg = decodeMessage(f.data)
      } catch (err) {
        if (!(err instanceof StunError)) throw err
        continue
      }
      if (msg.cls === StunClass.SuccessResponse || msg.cls === StunClass.ErrorResponse) {
        const key = transactionKey(msg.transactionId)
        const p = pending.get(key)
        if (p && p.method === msg.method) {
          pending.delete(key)
          p.resolve(msg)
        }
        continue
      }
      inbound?.({ kind: 'stun', message: msg })
    }
  })
  const local = { host: socket.localAddress ?? '', port: socket.localPort ?? 0 }
  return {
    transport: opts.transport,
    server,
    local,
    transact(message, t) {
      if (socket.destroyed) {
        return Promise.reject(new TurnError('TURN_CLOSED', 'connection to the server is closed'))
      }
      const s = t.signal
      if (s?.aborted) return Promise.reject(abortReason(s))
      const bytes = encodeMessage(message, t.encode)
      const key = transactionKey(message.transactionId)
      return new Promise<DecodedStunMessage>((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer)
          s?.removeEventListener('abort', onAbort)
          pending.delete(key)
        }
        const onAbort = () => {
          finish()
          reject(abortReason(s as AbortSignal))
        }
        const timer = setTimeout(() => {
          finish()
          reject(new TimeoutError(`TURN request to ${server.host}:${server.port} timed out`))
        }, t.timeoutMs)
        pending.set(key, {
          method: message.method,
          resolve: (m) => {
            finish()
            resolve(m)
          },
          reject: (e) => {
            finish()
            reject(e)
          },
        })
        s?.addEventListener('abort', onAbort, { once: true })
        socket.write(bytes)
      })
    },
    send(bytes) {
      if (socket.destroyed) return
      const pad = isChannelData(bytes) ? (4 - (bytes.length % 4)) % 4 : 0
      socket.write(pad ? Buffer.concat([bytes, Buffer.alloc(pad)]) : bytes)
    },
    onInbound(handler) {
      inbound = handler
    },
    onClosed(handler) {
      onClosed = handler
    },
    async close() {
      closing = true
      failAll(new TurnError('TURN_CLOSED', 'connection closed'))
      socket.destroy()
      await closed
    },
  }
}
