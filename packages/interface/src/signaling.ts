import { abortReason } from './abort.js'
import type { SignalTarget } from './peer-address.js'

/** A signaling message: a type tag and a JSON-compatible body. */
export interface SignalMessage {
  readonly type: string
  readonly body: unknown
}

/** A message received from another node, after the backend verified who sent it. */
export interface InboundSignal {
  /** Verified sender node ID. */
  readonly from: string
  readonly message: SignalMessage
  /** Local receive time (ms since epoch). */
  readonly receivedAt: number
}

export type SignalHandler = (inbound: InboundSignal) => void

/**
 * Delivers small coordination messages between nodes (never the data). Implementations:
 * `@p2pd/signal-mqtt`, and an in-memory one for tests. The node knows nothing else of them.
 */
export interface Signaling {
  /** Connects and starts receiving messages addressed to this node. */
  start(options?: { signal?: AbortSignal }): Promise<void>
  /** Sends `message` to `to`; resolves once handed to at least one transport. */
  publish(
    to: SignalTarget,
    message: SignalMessage,
    options?: { signal?: AbortSignal },
  ): Promise<void>
  /** Registers a handler for inbound messages; returns the function that removes it. */
  subscribe(handler: SignalHandler): () => void
  /** Broker offsets this node is reachable on (goes into its peer address). */
  readonly offsets: readonly number[]
  close(): Promise<void>
}

/**
 * Resolves with the first inbound message that `match` accepts, or rejects with the signal's
 * typed reason. Subscribe *before* publishing the request the reply answers.
 */
export function waitForSignal(
  signaling: Signaling,
  match: (inbound: InboundSignal) => boolean,
  signal: AbortSignal,
): Promise<InboundSignal> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const onAbort = () => {
      off()
      reject(abortReason(signal))
    }
    const off = signaling.subscribe((inbound) => {
      if (!match(inbound)) return
      off()
      signal.removeEventListener('abort', onAbort)
      resolve(inbound)
    })
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
