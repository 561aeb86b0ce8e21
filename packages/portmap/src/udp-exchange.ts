import { createSocket } from 'node:dgram'
import { isIP } from 'node:net'
import { abortReason, Deadline, TimeoutError, throwIfAborted } from '@p2pd/interface'
import { DROPPED_REPLY_CODES, PortMapError } from './errors.js'
import { DEFAULT_REQUEST_TIMEOUT_MS, type RequestOptions } from './types.js'

/** Where a PCP or NAT-PMP request goes. */
export interface UdpTarget {
  readonly gateway: string
  readonly port: number
  /** Bind to this local address (the interface that faces the gateway). */
  readonly localAddress?: string
}

export interface UdpExchangeOptions<T> extends RequestOptions {
  /** Builds the request once the socket knows its own address (PCP puts it in the message). */
  readonly request: (localAddress: string) => Uint8Array
  /** Decodes and checks one datagram; throws a dropped code for strays, another to fail. */
  readonly accept: (datagram: Uint8Array) => T
  /** First retransmission timeout; doubled after each send (RFC 6886 §3.1: 250 ms). */
  readonly initialRtoMs?: number
}

/**
 * One request/reply exchange with a gateway over a connected UDP socket, retransmitted with
 * exponential backoff until a reply passes `accept` or the deadline. Only the gateway's own
 * address and port reach a connected socket; an ICMP "port unreachable" (no server) fails at
 * once with `PORTMAP_NETWORK` instead of waiting out the deadline.
 *
 * @throws {@link PortMapError}, `TimeoutError`, `AbortError`
 */
export async function udpExchange<T>(
  target: UdpTarget,
  options: UdpExchangeOptions<T>,
): Promise<{ reply: T; localAddress: string }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  throwIfAborted(options.signal)
  const family = isIP(target.gateway)
  if (family === 0) {
    throw new PortMapError(
      'PORTMAP_BAD_ARGUMENT',
      `gateway ${JSON.stringify(target.gateway)} is not an IP`,
    )
  }
  const deadline = new Deadline(timeoutMs, options.signal, `${target.gateway}:${target.port}`)
  const signal = deadline.signal
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4')
  let timer: NodeJS.Timeout | undefined
  let onAbort = () => {}
  try {
    let localAddress = ''
    const reply = await new Promise<T>((resolve, reject) => {
      let dropped = 0
      let lastDrop: PortMapError | undefined
      onAbort = () => {
        const reason = abortReason(signal)
        if (reason instanceof TimeoutError) {
          const what = dropped > 0 ? `; dropped ${dropped} (last: ${lastDrop?.message})` : ''
          reject(
            new PortMapError(
              'PORTMAP_NO_REPLY',
              `no valid reply from ${target.gateway}:${target.port} in ${timeoutMs} ms${what}`,
              { cause: lastDrop ?? reason },
            ),
          )
        } else reject(reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      socket.on('error', (err: NodeJS.ErrnoException) => {
        reject(
          new PortMapError(
            'PORTMAP_NETWORK',
            `${target.gateway}:${target.port}: ${err.code ?? err.message}`,
            { cause: err },
          ),
        )
      })
      socket.on('message', (datagram) => {
        try {
          resolve(
            options.accept(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.length)),
          )
        } catch (err) {
          if (err instanceof PortMapError && DROPPED_REPLY_CODES.has(err.code)) {
            dropped++
            lastDrop = err
          } else reject(err)
        }
      })
      socket.bind(
        { port: 0, ...(target.localAddress ? { address: target.localAddress } : {}) },
        () => {
          socket.connect(target.port, target.gateway, (err?: Error) => {
            if (err) {
              socket.emit('error', err)
              return
            }
            let request: Uint8Array
            try {
              localAddress = socket.address().address
              request = options.request(localAddress)
            } catch (err) {
              reject(err)
              return
            }
            let rto = options.initialRtoMs ?? 250
            const send = () => {
              socket.send(request)
              timer = setTimeout(send, rto)
              rto *= 2
            }
            send()
          })
        },
      )
    })
    return { reply, localAddress }
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
    deadline.dispose()
    socket.close()
  }
}
