import type { RawConnection, Strategy, StrategyContext } from '@p2pd/interface'
import { directCandidates } from '../candidates.js'
import { dialPeer } from '../dial.js'
import { ConnectionKind, encodePreamble } from '../preamble.js'

export interface DirectInit {
  /** Delay before racing the next candidate endpoint (default 250 ms). */
  staggerMs?: number
}

/**
 * Direct connect: TCP straight to the peer's listener — same machine, same LAN (shared
 * external IP), or a peer without NAT. Candidates race happy-eyeballs style.
 */
export function direct(init: DirectInit = {}): Strategy {
  return {
    name: 'direct',
    canTry(local, remote) {
      return directCandidates(local, remote).length > 0 || 'peer listener not reachable directly'
    },
    async connect(ctx: StrategyContext, signal: AbortSignal): Promise<RawConnection> {
      const candidates = directCandidates(ctx.local, ctx.remote)
      ctx.log(`direct: dialling ${candidates.map((c) => `${c.host}:${c.port}`).join(', ')}`)
      return dialPeer(candidates, encodePreamble(ConnectionKind.Direct), signal, init.staggerMs)
    },
  }
}
