import { connect, type Socket } from 'node:net'
import { abortReason, type Endpoint, linkSignals, type RawConnection } from '@p2pd/interface'
import { NodeError } from './errors.js'

/** Opens one TCP connection, or rejects with the typed abort reason / the socket error. */
export function dialTcp(
  to: Endpoint,
  signal: AbortSignal,
  options: { localAddress?: string; localPort?: number } = {},
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const socket = connect({ host: to.host, port: to.port, ...options })
    socket.setNoDelay(true)
    const onAbort = () => {
      socket.destroy()
      reject(abortReason(signal))
    }
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort)
      socket.off('error', onError)
      resolve(socket)
    })
    const onError = (err: Error) => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      reject(err)
    }
    socket.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Happy eyeballs over several endpoints (RFC 8305 style): start the first, start the next
 * every `staggerMs` or as soon as one fails; the first to connect wins, the rest are closed.
 */
export async function dialFirst(
  candidates: readonly Endpoint[],
  signal: AbortSignal,
  staggerMs = 250,
): Promise<{ socket: Socket; endpoint: Endpoint }> {
  if (candidates.length === 0) throw new NodeError('NODE_NO_CANDIDATES', 'nothing to dial')
  // Aborted when one candidate wins (or the caller gives up): the losers stop dialling.
  const inner = linkSignals(signal)
  const errors: unknown[] = []
  return new Promise((resolve, reject) => {
    let next = 0
    let pending = 0
    let done = false
    let timer: NodeJS.Timeout | undefined
    const launch = () => {
      clearTimeout(timer)
      if (done || next >= candidates.length) return
      const endpoint = candidates[next++] as Endpoint
      pending++
      dialTcp(endpoint, inner.signal).then(
        (socket) => {
          pending--
          if (done) return void socket.destroy()
          done = true
          clearTimeout(timer)
          inner.abort()
          resolve({ socket, endpoint })
        },
        (err) => {
          pending--
          errors.push(err)
          if (done) return
          if (signal.aborted) {
            done = true
            clearTimeout(timer)
            inner.dispose()
            return reject(abortReason(signal))
          }
          if (next < candidates.length) return launch()
          if (pending === 0) {
            done = true
            inner.dispose()
            reject(
              new NodeError(
                'NODE_DIAL_FAILED',
                `no candidate answered: ${errors.map((e) => (e as Error).message).join('; ')}`,
              ),
            )
          }
        },
      )
      if (next < candidates.length) timer = setTimeout(launch, staggerMs)
    }
    launch()
  })
}

/**
 * Dials the first answering candidate, announces the connection with its preamble (kind and
 * token) and hands it over as a raw, not yet authenticated connection.
 */
export async function dialPeer(
  candidates: readonly Endpoint[],
  preamble: Buffer,
  signal: AbortSignal,
  staggerMs?: number,
): Promise<RawConnection> {
  const { socket, endpoint } = await dialFirst(candidates, signal, staggerMs)
  socket.write(preamble)
  return {
    stream: socket,
    local: { host: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    remote: endpoint,
    relayed: false,
    initiator: true,
  }
}
