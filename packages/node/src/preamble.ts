import type { Socket } from 'node:net'
import { abortReason } from '@p2pd/interface'
import { NodeError } from './errors.js'

/**
 * The first bytes of every TCP connection to a node's listener, before the secure channel:
 * `"P2PD"` ‖ version (1) ‖ kind (1) ‖ token (16). The listener uses them to route a socket:
 * a `direct` dial becomes an incoming pipe; a `reverse` dial answers the pending
 * `expectConnection(token)` of the node that asked for it. The token is random and travels
 * only inside encrypted signaling; identity is still proven by the secure channel after it.
 */
export const PREAMBLE_LENGTH = 22
const MAGIC = Buffer.from('P2PD')
const VERSION = 1

export const ConnectionKind = { Direct: 0, Reverse: 1, Punch: 2 } as const
export type ConnectionKind = (typeof ConnectionKind)[keyof typeof ConnectionKind]

export interface Preamble {
  readonly kind: ConnectionKind
  /** 32 lowercase hex chars (all zeros for `direct`). */
  readonly token: string
}

const ZERO_TOKEN = '0'.repeat(32)

export function encodePreamble(kind: ConnectionKind, token = ZERO_TOKEN): Buffer {
  if (!/^[0-9a-f]{32}$/.test(token)) {
    throw new NodeError('NODE_PREAMBLE', 'preamble token must be 32 hex chars')
  }
  return Buffer.concat([MAGIC, Buffer.from([VERSION, kind]), Buffer.from(token, 'hex')])
}

export function decodePreamble(bytes: Uint8Array): Preamble {
  if (bytes.length !== PREAMBLE_LENGTH) {
    throw new NodeError('NODE_PREAMBLE', `preamble must be ${PREAMBLE_LENGTH} bytes`)
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new NodeError('NODE_PREAMBLE', 'not a p2pd peer')
  if (buf[4] !== VERSION) throw new NodeError('NODE_PREAMBLE', `unsupported version ${buf[4]}`)
  const kind = buf[5] as number
  if (kind !== ConnectionKind.Direct && kind !== ConnectionKind.Reverse && kind !== 2) {
    throw new NodeError('NODE_PREAMBLE', `unknown connection kind ${kind}`)
  }
  return { kind: kind as ConnectionKind, token: buf.subarray(6).toString('hex') }
}

/**
 * Reads exactly one preamble from `socket` and puts back whatever followed it, so the
 * secure channel sees the stream from its first byte. Rejects on deadline, early end or junk.
 */
export function readPreamble(socket: Socket, signal: AbortSignal): Promise<Preamble> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const cleanup = () => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', onError)
      signal.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error) => {
      cleanup()
      socket.pause()
      reject(err)
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      length += chunk.length
      if (length < PREAMBLE_LENGTH) return
      cleanup()
      socket.pause()
      const all = Buffer.concat(chunks, length)
      try {
        const preamble = decodePreamble(all.subarray(0, PREAMBLE_LENGTH))
        if (all.length > PREAMBLE_LENGTH) socket.unshift(all.subarray(PREAMBLE_LENGTH))
        resolve(preamble)
      } catch (err) {
        reject(err)
      }
    }
    const onEnd = () => fail(new NodeError('NODE_PREAMBLE', 'connection ended before preamble'))
    const onError = (err: Error) => fail(err)
    const onAbort = () => fail(abortReason(signal))
    if (signal.aborted) return onAbort()
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
