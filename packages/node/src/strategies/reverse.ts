import { randomBytes } from 'node:crypto'
import type { InboundSignal, RawConnection, Strategy, StrategyContext } from '@p2pd/interface'
import { directCandidates, isReachable } from '../candidates.js'
import { dialPeer } from '../dial.js'
import { NodeError } from '../errors.js'
import { ConnectionKind, encodePreamble } from '../preamble.js'

/** Body of `reverse/request`: "dial me (at `address`) back, and present this token". */
export interface ReverseRequest {
  readonly token: string
  /** The requester's peer address text (checked by the node against the verified sender). */
  readonly address: string
}

function parseToken(body: unknown): string {
  const token = (body as { token?: unknown } | null)?.token
  if (typeof token !== 'string' || !/^[0-9a-f]{32}$/.test(token)) {
    throw new NodeError('NODE_BAD_MESSAGE', 'reverse/request needs a 32-hex token')
  }
  return token
}

export interface ReverseInit {
  /** Delay before racing the next candidate endpoint (default 250 ms). */
  staggerMs?: number
  /**
   * Asks once more (same token, a new message) when no dial-back arrived within this many ms,
   * in case signaling lost or dropped the first request — e.g. a flooded peer (default 1 s;
   * 0 = never).
   */
  resendMs?: number
}

/**
 * Reverse connect: we are reachable, the peer may not be — ask it over signaling to dial us.
 * The peer dials the address we sent inside the signed request; the node has checked that its
 * node ID is ours, and the secure channel proves it again on the socket.
 */
export function reverse(init: ReverseInit = {}): Strategy {
  return {
    name: 'reverse',
    accepts: ['reverse/request'],
    canTry(local, remote) {
      if (remote.legacy) return 'peer id is not a key'
      // The peer dials what our address offers it, in the families it has: a listener that is
      // open only in a family the peer lacks cannot be reached, and the next stage (punch)
      // should not wait out this one's head start for it.
      if (directCandidates(remote, local).length === 0) {
        return isReachable(local)
          ? 'the peer has no IP family in which we are reachable'
          : 'we are not reachable either'
      }
      return true
    },
    async connect(ctx: StrategyContext, signal: AbortSignal): Promise<RawConnection> {
      const token = randomBytes(16).toString('hex')
      const arrived = ctx.expectConnection(token, signal)
      // Armed before publishing; if publishing fails we never await it, so mark it handled.
      arrived.catch(() => {})
      const ask = () =>
        ctx.signaling.publish(
          { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal },
          {
            type: 'reverse/request',
            body: { token, address: ctx.localText } satisfies ReverseRequest,
          },
          { signal },
        )
      await ask()
      ctx.log('reverse: asked the peer to dial back')
      const resendMs = init.resendMs ?? 1_000
      if (resendMs > 0) {
        let timer: NodeJS.Timeout | undefined
        const due = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), resendMs)
        })
        try {
          const early = await Promise.race([arrived, due])
          if (early) return { ...early, initiator: false }
        } finally {
          clearTimeout(timer)
        }
        // A duplicate dial-back is refused by token; a failed resend still leaves the first.
        ctx.log('reverse: no dial-back yet, asking again')
        await ask().catch((err) => ctx.log(`reverse: asking again failed: ${String(err)}`))
      }
      return { ...(await arrived), initiator: false }
    },
    async accept(ctx: StrategyContext, inbound: InboundSignal, signal: AbortSignal) {
      const token = parseToken(inbound.message.body)
      const candidates = directCandidates(ctx.local, ctx.remote)
      ctx.log(`reverse: dialling back ${candidates.map((c) => `${c.host}:${c.port}`).join(', ')}`)
      const preamble = encodePreamble(ConnectionKind.Reverse, token)
      return dialPeer(candidates, preamble, signal, init.staggerMs)
    },
  }
}
