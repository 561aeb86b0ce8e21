import { connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import { abortReason, type Endpoint, TimeoutError, throwIfAborted } from '@p2pd/interface'
import {
  type DecodedStunMessage,
  decodeMessage,
  encodeMessage,
  HEADER_LENGTH,
  StunError,
  transactionKey,
} from '@p2pd/stun'
import { TurnError } from '../errors.js'
import type { ServerConnection } from './transport.js'

/** How to open a TCP (or TLS) connection to the TURN server. */
export interface StreamTarget {
  readonly server: Endpoint
  readonly transport: 'tcp' | 'tls'
  readonly localAddress?: string
  readonly tls?: ConnectionOptions
}

/**
 * Opens a TCP/TLS connection to the server under `signal`; `TURN_SOCKET` on failure.
 * Half-open allowed: on a data connection the peer's FIN must not end our side before our
 * last bytes (a secure pipe's close frame) are written.
 */
export function dialServer(target: StreamTarget, signal: AbortSignal): Promise<Socket> {
  throwIfAborted(signal)
  const { server } = target
  return new Promise<Socket>((resolve, reject) => {
    const base = {
      host: server.host,
      port: server.port,
      ...(target.localAddress !== undefined ? { localAddress: target.localAddress } : {}),
    }
    const s: Socket =
      target.transport === 'tls'
        ? tlsConnect({ ...base, ...target.tls })
        : netConnect({ ...base, noDelay: true, allowHalfOpen: true })
    // node:tls has no option for it; the property works on any socket before its end.
    s.allowHalfOpen = true
    const ready = target.transport === 'tls' ? 'secureConnect' : 'connect'
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
          { cause: err },
        ),
      )
    }
    const onReady = () => {
      done()
      s.setNoDelay(true)
      resolve(s)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    s.once('error', onError)
    s.once(ready, onReady)
  })
}

/**
 * Reads exactly one STUN message from `socket`; what follows it stays unread in the socket.
 * Pulls with `'readable'`/`read()` (never `pause()`): once the listener is gone the socket is
 * back in its initial mode, so whoever takes it next starts it by listening to `'data'`.
 */
function readOneMessage(
  socket: Socket,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<DecodedStunMessage> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0)
    const finish = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off('readable', onReadable)
      socket.off('close', onClose)
    }
    const fail = (err: Error) => {
      finish()
      reject(err)
    }
    const onAbort = () => fail(abortReason(signal as AbortSignal))
    const onClose = () =>
      fail(new TurnError('TURN_SOCKET', 'the TURN server closed the data connection'))
    const timer = setTimeout(
      () => fail(new TimeoutError('TURN ConnectionBind response timed out')),
      timeoutMs,
    )
    const onReadable = () => {
      for (let chunk = socket.read() as Buffer | null; chunk; chunk = socket.read()) {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
        if (buffered.length < HEADER_LENGTH) continue
        if (((buffered[0] as number) & 0xc0) !== 0) {
          fail(new TurnError('TURN_BAD_RESPONSE', 'the data connection did not answer with STUN'))
          return
        }
        const size = HEADER_LENGTH + buffered.readUInt16BE(2)
        if (buffered.length < size) continue
        finish()
        // Bytes after the response are the peer's: back into the socket for the next reader.
        if (buffered.length > size) socket.unshift(buffered.subarray(size))
        try {
          resolve(decodeMessage(buffered.subarray(0, size)))
        } catch (err) {
          reject(
            err instanceof StunError
              ? new TurnError('TURN_BAD_RESPONSE', 'malformed response on the data connection', {
                  cause: err,
                })
              : err,
          )
        }
        return
      }
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.on('readable', onReadable)
    socket.once('close', onClose)
  })
}

/**
 * A {@link ServerConnection} over a data connection before it is bound: one transaction at a
 * time, nothing read beyond the response (the rest of the stream belongs to the peer). Lets
 * the ConnectionBind reuse the client's authenticated request loop.
 */
export function unboundDataConnection(socket: Socket, target: StreamTarget): ServerConnection {
  return {
    transport: target.transport,
    server: target.server,
    local: { host: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    async transact(message, t) {
      if (socket.destroyed) throw new TurnError('TURN_CLOSED', 'data connection is closed')
      socket.write(encodeMessage(message, t.encode))
      const key = transactionKey(message.transactionId)
      const res = await readOneMessage(socket, t.signal, t.timeoutMs)
      if (transactionKey(res.transactionId) !== key || res.method !== message.method) {
        throw new TurnError('TURN_BAD_RESPONSE', 'unexpected message on the data connection')
      }
      return res
    },
    send(bytes) {
      socket.write(bytes)
    },
    onInbound() {},
    onClosed() {},
    async close() {
      socket.destroy()
    },
  }
}
