import { abortReason, type Signaling } from '@p2pd/interface'
import type { PunchError } from '../errors.js'
import {
  MessageType,
  type PunchAbort,
  type PunchAck,
  type PunchAnswer,
  type PunchReady,
  parseAnswer,
  parseReady,
} from './messages.js'

/** What a message is, for waiting: the answer, or the `kind` of a `punch/ready`. */
interface Parsed {
  answer: PunchAnswer
  go: PunchReady
  ack: PunchAck
  abort: PunchAbort
}
type Kind = keyof Parsed

function parse(type: string, body: unknown): Received | undefined {
  if (type === MessageType.answer) return { type: 'answer', body: parseAnswer(body), atPerf: 0 }
  if (type !== MessageType.ready) return undefined
  const r = parseReady(body)
  return { type: r.kind, body: r, atPerf: 0 } as Received
}

/** A received message of one punch, with its monotonic arrival time. */
export type Received = { [K in Kind]: { type: K; body: Parsed[K]; atPerf: number } }[Kind]

/**
 * The messages of one punch (`id`) from one peer, subscribed *before* anything is sent.
 * Messages from anyone else, of another punch, or that fail validation are dropped (and
 * logged); valid ones queue until {@link Inbox.next} takes them.
 */
export class Inbox {
  readonly #queue: Received[] = []
  readonly #off: () => void
  #wake: (() => void) | undefined

  constructor(
    signaling: Signaling,
    readonly peer: string,
    readonly id: string,
    log: (m: string) => void,
  ) {
    this.#off = signaling.subscribe((inbound) => {
      if (inbound.from !== peer) return
      const type = inbound.message.type
      if (type !== MessageType.answer && type !== MessageType.ready) return
      if ((inbound.message.body as { id?: unknown } | null)?.id !== id) return
      try {
        const m = parse(type, inbound.message.body)
        if (!m) return
        this.#queue.push({ ...m, atPerf: performance.now() })
        this.#wake?.()
      } catch (err) {
        log(`punch: dropped a ${type}: ${(err as PunchError).message}`)
      }
    })
  }

  /** The next message of one of `types` (earlier ones of other types stay queued). */
  next<K extends Kind>(
    types: readonly K[],
    signal: AbortSignal,
  ): Promise<Extract<Received, { type: K }>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.#queue.findIndex((m) => (types as readonly string[]).includes(m.type))
        if (i < 0) return false
        const [m] = this.#queue.splice(i, 1)
        finish()
        resolve(m as Extract<Received, { type: K }>)
        return true
      }
      const onAbort = () => {
        finish()
        reject(abortReason(signal))
      }
      const finish = () => {
        this.#wake = undefined
        signal.removeEventListener('abort', onAbort)
      }
      if (signal.aborted) return reject(abortReason(signal))
      if (check()) return
      this.#wake = () => void check()
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  close(): void {
    this.#off()
    this.#wake = undefined
  }
}
