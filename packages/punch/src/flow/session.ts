import type { Socket } from 'node:net'
import { abortReason, Deadline, type RawConnection, type StrategyContext } from '@p2pd/interface'
import { PunchError } from '../errors.js'
import type { HeldMappings } from '../mappings.js'
import { type InterfacePair, interfacePair } from '../plan.js'
import type { Inbox } from '../protocol/inbox.js'
import { MessageType, type PunchAbort } from '../protocol/messages.js'
import type { Acceptor } from '../sockets/acceptor.js'
import type { ConnectLoop } from '../sockets/connect-loop.js'
import type { KeepWatcher } from '../sockets/nomination.js'

/** Everything one punch holds; released in one place on success, failure or abort. */
export class Resources {
  inbox?: Inbox
  held?: HeldMappings
  acceptor?: Acceptor
  loop?: ConnectLoop
  watcher?: KeepWatcher
  readonly sockets = new Set<Socket>()
  readonly deadlines: Deadline[] = []

  /** A GC-safe deadline under `parent`, released with everything else. */
  deadline(ms: number, parent: AbortSignal, what: string): AbortSignal {
    const d = new Deadline(ms, parent, `punch: ${what}`)
    this.deadlines.push(d)
    return d.signal
  }

  async release(winner?: Socket): Promise<void> {
    this.loop?.stop()
    this.watcher?.close()
    for (const s of this.sockets) if (s !== winner) s.destroy()
    this.sockets.clear()
    this.inbox?.close()
    for (const d of this.deadlines.splice(0)) d.dispose()
    await Promise.allSettled([this.acceptor?.close(), this.held?.release()])
  }
}

/**
 * The punched socket as the node takes it. Both sides "dialled": the secure channel's hello
 * breaks the tie, unless one side (`initiator: false`) lets the other open the handshake.
 */
export function rawConnection(socket: Socket, initiator = true): RawConnection {
  socket.setNoDelay(true)
  return {
    stream: socket,
    local: { host: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    remote: { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
    relayed: false,
    initiator,
  }
}

export function requirePair(ctx: StrategyContext): InterfacePair {
  const pair = interfacePair(ctx.local, ctx.remote)
  if (!pair) throw new PunchError('PUNCH_NOT_PUNCHABLE', 'no IP family in common')
  return pair
}

/** Sends one punch message to the peer. */
export const publish = (ctx: StrategyContext, type: string, body: object, signal: AbortSignal) =>
  ctx.signaling.publish(
    { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal },
    { type, body },
    { signal },
  )

/**
 * Tells the peer we gave up (best effort, not awaited): once our loop is spent and nothing
 * of ours listens, no SYN of theirs can reach us any more, so its retries are wasted and the
 * next strategy may start now rather than at the end of its window.
 */
export function abortPeer(
  ctx: StrategyContext,
  id: string,
  reason: string,
  signal: AbortSignal,
): void {
  const abort: PunchAbort = { v: 1, kind: 'abort', id, reason: reason.slice(0, 200) }
  publish(ctx, MessageType.ready, abort, signal).catch(() => {})
}

/** Resolves with the first of: a socket, a peer abort, the loop giving up, the deadline. */
export function firstSocket(opts: {
  sockets: Promise<Socket>
  signal: AbortSignal
  peerAbort?: Promise<PunchAbort | undefined>
  loopDone?: Promise<void>
  listening: boolean
  /**
   * Whether sockets that connected still wait for the peer's KEEP: while any does, a spent
   * loop is no failure.
   */
  waiting?: () => boolean
}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (f: () => void) => {
      if (done) return
      done = true
      opts.signal.removeEventListener('abort', onAbort)
      f()
    }
    const onAbort = () => finish(() => reject(abortReason(opts.signal)))
    if (opts.signal.aborted) return onAbort()
    opts.signal.addEventListener('abort', onAbort, { once: true })
    opts.sockets.then((s) => finish(() => resolve(s)))
    opts.peerAbort?.then(
      (a) => {
        if (a)
          finish(() => reject(new PunchError('PUNCH_PEER_ABORTED', `peer aborted: ${a.reason}`)))
      },
      () => {},
    )
    // Without a listener, a loop with nothing left to try is a failure; give sockets that
    // connected in the same tick a moment to be delivered.
    if (!opts.listening) {
      opts.loopDone?.then(() =>
        setImmediate(() => {
          if (opts.waiting?.()) return
          finish(() => reject(new PunchError('PUNCH_FAILED', 'every punch attempt failed')))
        }),
      )
    }
  })
}
