import type { Pipe } from '@p2pd/interface'
import { abortReason } from '@p2pd/interface'
import { NodeError } from './errors.js'

/**
 * Nomination (as in ICE): strategies may race, so both peers can end up with several
 * authenticated pipes. The connecting side writes one byte on the pipe it keeps; the other
 * side hands a pipe to the user only once that byte arrives, and drops pipes that close first.
 *
 * An upgrade (a direct pipe replacing a relayed one) is nominated with {@link UPGRADE} and the
 * first {@link BINDING_BYTES} bytes of the replaced pipe's handshake hash, which both ends
 * share: the responder then knows which of its pipes the new one replaces.
 */
const NOMINATE = 0x01
const UPGRADE = 0x02
export const BINDING_BYTES = 16

/** What the responder learns from a nomination. */
export interface Nomination {
  /** For an upgrade: the replaced pipe's handshake-hash prefix. */
  readonly replaces?: Buffer
}

/** Pipes made by the secure channel carry their handshake hash (a channel binding). */
export function bindingOf(pipe: Pipe): Buffer | undefined {
  const h = (pipe as Pipe & { handshakeHash?: unknown }).handshakeHash
  return Buffer.isBuffer(h) && h.length >= BINDING_BYTES ? h.subarray(0, BINDING_BYTES) : undefined
}

/** Nominates `pipe`; as the successor of `replaces` when given. */
export function nominate(pipe: Pipe, replaces?: Pipe): void {
  const binding = replaces && bindingOf(replaces)
  pipe.write(binding ? Buffer.concat([Buffer.from([UPGRADE]), binding]) : Buffer.from([NOMINATE]))
}

export function awaitNomination(pipe: Pipe, signal: AbortSignal): Promise<Nomination> {
  return new Promise((resolve, reject) => {
    let kind: number | undefined
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
      if (kind === undefined) {
        const b = pipe.read(1) as Buffer | null
        if (b === null) return
        kind = b[0]
        if (kind === NOMINATE) {
          cleanup()
          return resolve({})
        }
        if (kind !== UPGRADE) return fail(new NodeError('NODE_NOMINATION', 'unexpected first byte'))
      }
      const binding = pipe.read(BINDING_BYTES) as Buffer | null
      if (binding === null) return
      cleanup()
      resolve({ replaces: binding })
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
