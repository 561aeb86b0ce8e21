import type { PeerAddress, Strategy } from '@p2pd/interface'
import { answer } from './flow/answerer.js'
import { offer } from './flow/offerer.js'
import { type PunchInit, settings } from './options.js'
import { effectiveNat, interfacePair, punchMode } from './plan.js'
import { MessageType } from './protocol/messages.js'

export type { PunchEvent, PunchInit } from './options.js'

const NAME = 'punch'

/**
 * TCP hole punching as a {@link Strategy}: fresh mappings observed just before and held open,
 * an offer/answer/ready/ack exchange over signaling, a meeting instant computed from the
 * measured signaling RTT and both clocks' uncertainty, then jittered, capped, staggered
 * connects from the held ports (or a listener on the side whose NAT accepts unsolicited SYNs).
 * Returns the socket both sides agreed to keep; the node authenticates it. The offering flow
 * is `flow/offerer.ts`, the answering one `flow/answerer.ts`.
 */
export function punch(init: PunchInit = {}): Strategy {
  const s = settings(init)
  return {
    name: NAME,
    accepts: [MessageType.offer],
    canTry(local: PeerAddress, remote: PeerAddress): true | string {
      if (remote.legacy) return 'peer id is not a key'
      const pair = interfacePair(local, remote)
      if (!pair) return 'no IP family in common'
      const mode = punchMode(local, remote)
      const verdict = s.verdictOf(
        effectiveNat(mode, pair.mine.nat),
        effectiveNat(mode, pair.theirs.nat),
      )
      if (verdict !== true) return verdict
      if (mode === 'remote' && (init.stunServers?.length ?? 0) === 0)
        return 'no STUN server configured'
      return true
    },
    connect: (ctx, signal) => offer(s, ctx, signal),
    accept: (ctx, inbound, signal) => answer(s, ctx, inbound, signal),
  }
}
