import type { Pipe } from '@p2pd/interface'
import { abortReason } from '@p2pd/interface'
import { NodeError } from './errors.js'

/**
 * Nomination (as in ICE): strategies may race, so both peers can end up with several
 * authenticated pipes. The connecting side writes one byte on the pipe it keeps; the other
 * side hands a pipe to the user only once that byte arrives, and drops pipes that close first.
 */
const NOMINATE = 0x01

export function nominate(pipe: Pipe): void {
  pipe.write(Buffer.from([NOMINATE]))
}

export function awaitNomination(pipe: Pipe, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      pipe.off('readable', onReadable)
      pipe.off('close', onClose)
      pipe.off('error', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error) => {
      cleanup()
      pipe.destroy()
      reject(err)
    }
    const onReadable = () => {
      const b = pipe.read(1) as Buffer | null
      if (b === null) return
      cleanup()
      if (b[0] === NOMINATE) resolve()
      else fail(new NodeError('NODE_NOMINATION', 'unexpected first byte'))
    }
    const onClose = () => fail(new NodeError('NODE_NOMINATION', 'closed before nomination'))
    const onAbort = () => fail(abortReason(signal))
    if (signal.aborted) return onAbort()
    pipe.on('readable', onReadable)
    pipe.once('close', onClose)
    pipe.once('error', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
    onReadable()
  })
}
