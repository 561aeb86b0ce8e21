import type { Endpoint } from '@p2pd/interface'
import type { DecodedStunMessage, StunMessage } from '../codec/message.js'
import { transactionKey } from '../codec/transaction-id.js'
import { StunClass } from '../constants.js'

/** One outstanding request, waiting for its response. */
export interface PendingTransaction {
  readonly method: number
  readonly cookie: number | undefined
  readonly accepts: (from: Endpoint) => boolean
  readonly deliver: (response: DecodedStunMessage, from: Endpoint) => void
  readonly fail: (err: Error) => void
}

/**
 * Outstanding transactions of one socket, keyed by transaction id. A response is delivered
 * only when its id, method, class, cookie (legacy) and source all match.
 */
export class PendingTable {
  readonly #byKey = new Map<string, PendingTransaction>()

  get size(): number {
    return this.#byKey.size
  }

  has(message: StunMessage): boolean {
    return this.#byKey.has(transactionKey(message.transactionId))
  }

  add(message: StunMessage, p: PendingTransaction): () => void {
    const key = transactionKey(message.transactionId)
    this.#byKey.set(key, p)
    return () => {
      if (this.#byKey.get(key) === p) this.#byKey.delete(key)
    }
  }

  /** True when the message answered a pending transaction (and was delivered). */
  dispatch(msg: DecodedStunMessage, from: Endpoint): boolean {
    if (msg.cls !== StunClass.SuccessResponse && msg.cls !== StunClass.ErrorResponse) return false
    const p = this.#byKey.get(transactionKey(msg.transactionId))
    if (!p || p.method !== msg.method || p.cookie !== msg.cookie || !p.accepts(from)) return false
    p.deliver(msg, from)
    return true
  }

  failAll(err: Error): void {
    const all = [...this.#byKey.values()]
    this.#byKey.clear()
    for (const p of all) p.fail(err)
  }
}
