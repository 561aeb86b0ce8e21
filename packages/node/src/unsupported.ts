import type { InboundSignal, Signaling, SignalTarget, Strategy } from '@p2pd/interface'
import { NodeError } from './errors.js'

/**
 * "I do not take that": the signed reply a node sends when a peer's strategy asks it for
 * something none of its strategies handles (a `punch/offer` to a node without `punch`). The
 * asking side then fails that stage at once, with `NODE_STRATEGY_UNSUPPORTED`, instead of
 * waiting for its deadline.
 */
export const UNSUPPORTED = 'node/unsupported'

/** Body of a {@link UNSUPPORTED} reply: the message type that was refused. */
export interface UnsupportedBody {
  readonly type: string
}

const TYPE = /^[A-Za-z0-9_-]{1,32}\/[A-Za-z0-9_-]{1,32}$/
const namespaceOf = (type: string) => type.slice(0, type.indexOf('/'))

/**
 * True when `type` names a strategy (`<strategy>/<kind>`) that none of `strategies` knows, so
 * the sender is waiting for something that will never come. Replies of strategies we do know
 * (a late `punch/answer`) and the node's own messages never qualify.
 */
export function isUnsupportedRequest(type: string, strategies: readonly Strategy[]): boolean {
  if (!TYPE.test(type)) return false
  const ns = namespaceOf(type)
  if (ns === 'node') return false
  return !strategies.some(
    (s) => s.name === ns || s.accepts?.some((accepted) => namespaceOf(accepted) === ns),
  )
}

/**
 * Answers unsupported requests, at most once per sender and type per `windowMs`, and tracks at
 * most `maxEntries` of them: a peer cannot make the node send more replies than it sends
 * requests, and cannot grow its memory.
 */
export class UnsupportedResponder {
  readonly #recent = new Map<string, number>()

  constructor(
    private readonly windowMs = 10_000,
    private readonly maxEntries = 1024,
  ) {}

  /** Whether to answer now (and remember that we did). */
  shouldAnswer(from: string, type: string, now = performance.now()): boolean {
    const key = `${from} ${type}`
    const last = this.#recent.get(key)
    if (last !== undefined && now - last < this.windowMs) return false
    this.#recent.delete(key)
    if (this.#recent.size >= this.maxEntries) {
      const oldest = this.#recent.keys().next().value as string
      this.#recent.delete(oldest)
    }
    this.#recent.set(key, now)
    return true
  }

  async answer(
    signaling: Signaling,
    to: SignalTarget,
    inbound: InboundSignal,
    signal: AbortSignal,
  ): Promise<void> {
    if (!this.shouldAnswer(inbound.from, inbound.message.type)) return
    const body: UnsupportedBody = { type: inbound.message.type }
    await signaling.publish(to, { type: UNSUPPORTED, body }, { signal })
  }
}

/**
 * Connecting side: watches for {@link UNSUPPORTED} replies from one peer for the length of a
 * `connect()`, and fails the stage of the strategy they name.
 */
export class UnsupportedWatch {
  readonly #refused = new Set<string>()
  readonly #waiters = new Map<string, Set<(err: NodeError) => void>>()
  readonly #off: () => void

  constructor(signaling: Signaling, peer: string) {
    this.#off = signaling.subscribe((inbound) => {
      if (inbound.from !== peer || inbound.message.type !== UNSUPPORTED) return
      const type = (inbound.message.body as Partial<UnsupportedBody> | null)?.type
      if (typeof type !== 'string' || !TYPE.test(type)) return
      const ns = namespaceOf(type)
      this.#refused.add(ns)
      for (const fail of this.#waiters.get(ns) ?? []) fail(this.#error(ns, type))
    })
  }

  #error(strategy: string, type: string): NodeError {
    return new NodeError(
      'NODE_STRATEGY_UNSUPPORTED',
      `the peer does not take ${strategy} (it answered "unsupported" to ${type})`,
    )
  }

  /** `work`, unless the peer says it does not take `strategy` first. */
  guard<T>(strategy: Strategy, work: Promise<T>): Promise<T> {
    if (this.#refused.has(strategy.name)) {
      work.catch(() => {})
      return Promise.reject(this.#error(strategy.name, `${strategy.name}/…`))
    }
    return new Promise<T>((resolve, reject) => {
      const waiters = this.#waiters.get(strategy.name) ?? new Set()
      this.#waiters.set(strategy.name, waiters)
      const fail = (err: NodeError) => {
        waiters.delete(fail)
        work.catch(() => {})
        reject(err)
      }
      waiters.add(fail)
      work.then(
        (v) => {
          waiters.delete(fail)
          resolve(v)
        },
        (e: unknown) => {
          waiters.delete(fail)
          reject(e)
        },
      )
    })
  }

  dispose(): void {
    this.#off()
    this.#waiters.clear()
  }
}
