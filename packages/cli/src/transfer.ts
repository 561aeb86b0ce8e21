import { createHash, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { abortReason } from '@p2pd/interface'

export interface TransferResult {
  /** Bytes moved in each direction. */
  readonly bytes: number
  readonly ms: number
  /** Both directions' SHA-256 matched what the sender sent. */
  readonly verified: boolean
  /** Payload Mbit/s, both directions together. */
  readonly mbps: number
}

/** Writes `data` in chunks honouring backpressure. */
async function send(stream: Duplex, data: Buffer, signal: AbortSignal): Promise<void> {
  const chunk = 64 * 1024
  for (let off = 0; off < data.length; off += chunk) {
    if (signal.aborted) throw abortReason(signal)
    if (!stream.write(data.subarray(off, off + chunk))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          stream.off('close', onClose)
          resolve()
        }
        const onClose = () => reject(new Error('stream closed while sending'))
        stream.once('drain', onDrain)
        stream.once('close', onClose)
      })
    }
  }
}

/** Reads exactly `n` bytes and returns their SHA-256. */
function receive(stream: Duplex, n: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    let got = 0
    const cleanup = () => {
      stream.off('data', onData)
      stream.off('close', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const onData = (d: Buffer) => {
      const take = Math.min(d.length, n - got)
      hash.update(take === d.length ? d : d.subarray(0, take))
      got += take
      if (got === n) {
        cleanup()
        resolve(hash.digest('hex'))
      }
    }
    const onClose = () => {
      cleanup()
      reject(new Error(`stream closed after ${got} of ${n} bytes`))
    }
    const onAbort = () => {
      cleanup()
      reject(abortReason(signal))
    }
    stream.on('data', onData)
    stream.once('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Sends `bytes` random bytes each way at once over two ends of one connection and checks
 * that each side received exactly what the other sent (SHA-256).
 */
export async function exchange(
  a: Duplex,
  b: Duplex,
  bytes: number,
  signal: AbortSignal,
): Promise<TransferResult> {
  const fromA = randomBytes(bytes)
  const fromB = randomBytes(bytes)
  const sha = (d: Buffer) => createHash('sha256').update(d).digest('hex')
  const t0 = performance.now()
  const [atB, atA] = await Promise.all([
    receive(b, bytes, signal),
    receive(a, bytes, signal),
    send(a, fromA, signal),
    send(b, fromB, signal),
  ])
  const ms = performance.now() - t0
  return {
    bytes,
    ms,
    verified: atB === sha(fromA) && atA === sha(fromB),
    mbps: (2 * bytes * 8) / 1e6 / (ms / 1000),
  }
}
