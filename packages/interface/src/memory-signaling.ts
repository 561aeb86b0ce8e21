import { abortReason } from './abort.js'
import { P2pdError } from './errors.js'
import type { SignalTarget } from './peer-address.js'
import type { InboundSignal, SignalHandler, Signaling, SignalMessage } from './signaling.js'

/**
 * An in-process signaling network: every {@link Signaling} it hands out can reach the others by
 * node ID. For unit tests of strategies and nodes, and as the smallest example of the
 * `Signaling` contract. Delivery is asynchronous (like a real network) and in order.
 */
export class MemorySignalingHub {
  readonly #nodes = new Map<string, MemorySignaling>()
  /** One-way delivery delay in ms (0 = next macrotask). */
  latencyMs: number

  constructor(options: { latencyMs?: number } = {}) {
    this.latencyMs = options.latencyMs ?? 0
  }

  /** A `Signaling` endpoint for `nodeId` on this hub. */
  connect(nodeId: string): Signaling {
    return new MemorySignaling(this, nodeId)
  }

  /** @internal */
  register(node: MemorySignaling): void {
    if (this.#nodes.has(node.nodeId)) {
      throw new P2pdError('SIGNALING_DUPLICATE', `node ${node.nodeId} is already on this hub`)
    }
    this.#nodes.set(node.nodeId, node)
  }

  /** @internal */
  unregister(node: MemorySignaling): void {
    if (this.#nodes.get(node.nodeId) === node) this.#nodes.delete(node.nodeId)
  }

  /** @internal */
  deliver(from: string, to: string, message: SignalMessage): boolean {
    const target = this.#nodes.get(to)
    if (!target) return false
    // Copy through JSON: a real backend never shares objects between sender and receiver.
    const copy = JSON.parse(JSON.stringify(message)) as SignalMessage
    setTimeout(
      () => target.receive({ from, message: copy, receivedAt: Date.now() }),
      this.latencyMs,
    )
    return true
  }
}

class MemorySignaling implements Signaling {
  readonly offsets: readonly number[] = [0]
  readonly #hub: MemorySignalingHub
  readonly #handlers = new Set<SignalHandler>()
  #started = false

  constructor(
    hub: MemorySignalingHub,
    readonly nodeId: string,
  ) {
    this.#hub = hub
  }

  async start(options?: { signal?: AbortSignal }): Promise<void> {
    if (options?.signal?.aborted) throw abortReason(options.signal)
    if (this.#started) return
    this.#hub.register(this)
    this.#started = true
  }

  async publish(
    to: SignalTarget,
    message: SignalMessage,
    options?: { signal?: AbortSignal },
  ): Promise<void> {
    if (options?.signal?.aborted) throw abortReason(options.signal)
    if (!this.#started) throw new P2pdError('SIGNALING_NOT_STARTED', 'call start() first')
    // Like a broker, an offline recipient is not an error for the sender: the message is lost.
    this.#hub.deliver(this.nodeId, to.nodeId, message)
  }

  subscribe(handler: SignalHandler): () => void {
    this.#handlers.add(handler)
    return () => this.#handlers.delete(handler)
  }

  receive(inbound: InboundSignal): void {
    for (const h of this.#handlers) {
      try {
        h(inbound)
      } catch {
        // A throwing handler must not stop delivery to the others.
      }
    }
  }

  async close(): Promise<void> {
    this.#started = false
    this.#handlers.clear()
    this.#hub.unregister(this)
  }
}
