import { decodePeerAddress } from '@p2pd/address'
import {
  Deadline,
  type InboundSignal,
  type PeerAddress,
  type Pipe,
  type RawConnection,
  type StrategyContext,
  withDeadline,
} from '@p2pd/interface'
import { NodeError } from './errors.js'
import { InboundAttempt } from './inbound-attempt.js'
import type { ResolvedInboundLimits } from './inbound-limits.js'
import type { P2pdNode } from './node.js'
import { awaitNomination, bindingOf } from './nomination.js'
import { superviseRelayedPipe } from './relay-recovery.js'
import { isUnsupportedRequest, UnsupportedResponder } from './unsupported.js'

/** What the responder needs of its node beyond the public surface. */
export interface ResponderDeps {
  /** The node's lifetime: aborted by `stop()`. */
  readonly lifetime: AbortSignal
  readonly limits: ResolvedInboundLimits
  readonly handshakeTimeoutMs: number
  readonly log: (m: string) => void
  /** Every pipe the node made (an upgrade names the one it replaces). */
  readonly pipes: ReadonlySet<Pipe>
  /** Whether the node has started (an address to answer with). */
  readonly started: () => boolean
  readonly context: (remote: PeerAddress) => StrategyContext
  /** Runs the secure handshake on `raw`; the node tracks the pipe. */
  readonly secure: (
    raw: RawConnection,
    strategy: string,
    expectedPeer: string | undefined,
    signal: AbortSignal,
  ) => Promise<Pipe>
  readonly track: <P extends Pipe>(pipe: P) => P
  /** The allow-list (and never ourselves). */
  readonly allowed: (nodeId: string) => Promise<boolean>
}

/**
 * The node's answering side: requests that arrive by signaling (a strategy's `accept`, or a
 * refusal for a strategy we do not run) and connections that arrive raw (the listener's, or
 * one a strategy dialled back), each authenticated, checked against the allow-list, nominated
 * and handed to the app — or, for an upgrade, to the `'upgraded'` event.
 */
export class Responder {
  readonly #node: P2pdNode
  readonly #deps: ResponderDeps
  readonly #refusals = new UnsupportedResponder()

  constructor(node: P2pdNode, deps: ResponderDeps) {
    this.#node = node
    this.#deps = deps
  }

  async onSignal(inbound: InboundSignal): Promise<void> {
    const strategy = this.#node.strategies.find((s) => s.accepts?.includes(inbound.message.type))
    if (!strategy?.accept && isUnsupportedRequest(inbound.message.type, this.#node.strategies)) {
      return this.#refuse(inbound)
    }
    if (!strategy?.accept || !this.#deps.started()) return
    try {
      const text = (inbound.message.body as { address?: unknown } | null)?.address
      if (typeof text !== 'string') throw new NodeError('NODE_BAD_MESSAGE', 'no address in request')
      const remote = decodePeerAddress(text)
      if (remote.nodeId !== inbound.from) {
        throw new NodeError('NODE_BAD_MESSAGE', 'address does not belong to the sender')
      }
      if (!(await this.#deps.allowed(inbound.from))) return
      // Only the strategy's part (e.g. dialling back) runs under this deadline; acceptRaw
      // has deadlines of its own.
      const dial = new Deadline(30_000, this.#deps.lifetime, `${strategy.name} accept`)
      const raw = await strategy
        .accept(this.#deps.context(remote), inbound, dial.signal)
        .finally(() => dial.dispose())
      if (raw) await this.acceptRaw(raw, strategy.name, inbound.from)
    } catch (err) {
      this.#deps.log(
        `${inbound.message.type} from ${inbound.from.slice(0, 16)}… failed: ${(err as Error).message}`,
      )
    }
  }

  /**
   * Responder side: authenticate, check the allow-list, wait for nomination, hand over. Each
   * stage runs under its own deadline and the attempt's total one; `attempt` comes from the
   * listener (admitted and counted), or is made here for a connection we dialled ourselves.
   */
  async acceptRaw(
    raw: RawConnection,
    strategy: string,
    expectedPeer: string | undefined,
    attempt = new InboundAttempt({
      stream: raw.stream,
      totalTimeoutMs: this.#deps.limits.totalTimeoutMs,
      parent: this.#deps.lifetime,
    }),
  ) {
    // No listener of its own on the lifetime: the attempt's deadline follows it (directly, or
    // through the listener's), so pending attempts do not pile up listeners on one signal.
    try {
      const handshakeMs = this.#deps.handshakeTimeoutMs
      const pipe = this.#deps.track(
        await attempt.run('handshake', handshakeMs, (s) =>
          this.#deps.secure(raw, strategy, expectedPeer, s),
        ),
      )
      // Until the app holds the pipe, its errors are ours: log them, never crash on them.
      const unclaimed = (e: Error) =>
        this.#deps.log(`inbound pipe failed before delivery: ${e.message}`)
      pipe.on('error', unclaimed)
      if (!(await attempt.race(this.#deps.allowed(pipe.remotePeer)))) {
        this.#deps.log(`refused pipe from ${pipe.remotePeer.slice(0, 16)}… (allow-list)`)
        attempt.fail(new NodeError('NODE_REFUSED', 'allow-list'), { close: false })
        return void pipe.close()
      }
      const nominationMs = this.#deps.limits.nominationTimeoutMs
      const nomination = await attempt.run('nomination', nominationMs, (s) =>
        awaitNomination(pipe, s),
      )
      attempt.complete()
      pipe.off('error', unclaimed)
      if (nomination.replaces) return this.#upgraded(pipe, nomination.replaces)
      superviseRelayedPipe({
        node: this.#node,
        peer: pipe.remotePeer,
        pipe,
        lifetime: this.#deps.lifetime,
        log: this.#deps.log,
      })
      this.#node.incoming.push(pipe)
      this.#node.emit('pipe', pipe)
    } catch (err) {
      attempt.fail(err)
      this.#deps.log(`inbound ${strategy} connection dropped: ${(err as Error).message}`)
    }
  }

  /** Tells a peer that asked for a strategy we do not run, so its connect fails fast. */
  async #refuse(inbound: InboundSignal): Promise<void> {
    try {
      const text = (inbound.message.body as { address?: unknown } | null)?.address
      if (typeof text !== 'string') return
      const remote = decodePeerAddress(text)
      if (remote.nodeId !== inbound.from || !(await this.#deps.allowed(inbound.from))) return
      await withDeadline(
        5_000,
        this.#deps.lifetime,
        (signal) =>
          this.#refusals.answer(
            this.#node.signaling,
            { nodeId: remote.nodeId, signal: remote.signal },
            inbound,
            signal,
          ),
        'unsupported reply',
      )
    } catch (err) {
      this.#deps.log(
        `${inbound.message.type}: could not answer "unsupported": ${(err as Error).message}`,
      )
    }
  }

  /**
   * Responder side of an upgrade: the peer nominated `pipe` as the successor of the pipe whose
   * handshake hash starts with `replaces`. It goes to `'upgraded'`, not to `accept()`, so a
   * program that pairs its connects with its accepts keeps pairing the right pipes.
   */
  #upgraded(pipe: Pipe, replaces: Buffer): void {
    const previous = [...this.#deps.pipes].find(
      (p) =>
        p !== pipe && p.remotePeer === pipe.remotePeer && bindingOf(p)?.equals(replaces) === true,
    )
    if (!previous || previous.destroyed) {
      this.#deps.log(`upgrade from ${pipe.remotePeer.slice(0, 16)}… replaces no open pipe: closed`)
      return void pipe.close()
    }
    this.#deps.log(`upgraded ${previous.strategy} → ${pipe.strategy} (peer's initiative)`)
    this.#node.emit('upgraded', { previous, pipe, role: 'responder' })
  }
}
