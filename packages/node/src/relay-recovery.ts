import { type Pipe, sleep } from '@p2pd/interface'
import { isRelayLost } from '@p2pd/turn'
import type { ConnectedPipe, P2pdNode, Upgrade } from './node.js'

/** What `'relay-lost'` carries: a relayed pipe failed because its relay went away. */
export interface RelayLost {
  /** The peer's node ID. */
  readonly peer: string
  /** The pipe that failed (already destroyed). */
  readonly pipe: Pipe
  /** The pipe's error: caused by a `TurnError` `TURN_RELAY_LOST` (see `isRelayLost`). */
  readonly error: Error
  /** True when the node connects again now (`reconnect: true`, node running, not upgraded). */
  readonly reconnecting: boolean
}

/** What `'reconnected'` carries: `pipe` replaces the lost relayed pipe `previous`. */
export interface Reconnected {
  readonly previous: Pipe
  readonly pipe: ConnectedPipe
}

/** What `'reconnect-failed'` carries: every attempt after a relay loss failed. */
export interface ReconnectFailed {
  readonly peer: string
  readonly previous: Pipe
  /** The last attempt's error. */
  readonly error: Error
}

/** Attempts to connect again after a relay loss, and the pause between two (ms). */
export const RECONNECT_ATTEMPTS = 3
export const RECONNECT_SPACING_MS = 2_000

/** How {@link superviseRelayedPipe} reaches back into the node. */
export interface RelaySupervision {
  readonly node: P2pdNode
  readonly peer: string
  readonly pipe: Pipe
  /** Aborted when the node stops: no reconnect after that. */
  readonly lifetime: AbortSignal
  /** Connects again to the same peer (given only when the caller asked for `reconnect`). */
  readonly reconnect?: (signal: AbortSignal) => Promise<ConnectedPipe>
  readonly log: (message: string) => void
}

/**
 * Watches a relayed pipe. When it closes with a lost-relay error the node emits
 * `'relay-lost'`; with `reconnect`, it then connects again (up to {@link RECONNECT_ATTEMPTS}
 * times, {@link RECONNECT_SPACING_MS} apart) and emits `'reconnected'` with the new pipe, or
 * `'reconnect-failed'` with the last error. No reconnect once the node stops or after the pipe
 * was upgraded to a direct one (its successor exists already).
 *
 * It listens to `'close'` and reads `pipe.errored`, never to `'error'`: an error the
 * application does not handle stays unhandled, as on any other pipe.
 */
export function superviseRelayedPipe(s: RelaySupervision): void {
  if (!s.pipe.path.relayed) return
  let upgraded = false
  const onUpgraded = (u: Upgrade) => {
    if (u.previous === s.pipe) upgraded = true
  }
  s.node.on('upgraded', onUpgraded)
  s.pipe.once('close', () => {
    s.node.off('upgraded', onUpgraded)
    const error = s.pipe.errored
    if (!error || !isRelayLost(error)) return
    const reconnecting = s.reconnect !== undefined && !upgraded && !s.lifetime.aborted
    s.log(`relayed pipe to ${s.peer.slice(0, 16)}… lost its relay: ${error.message}`)
    s.node.emit('relay-lost', { peer: s.peer, pipe: s.pipe, error, reconnecting })
    if (reconnecting && s.reconnect) void reconnect(s, s.reconnect)
  })
}

async function reconnect(
  s: RelaySupervision,
  connect: (signal: AbortSignal) => Promise<ConnectedPipe>,
): Promise<void> {
  let last: Error = new Error('not attempted')
  for (let attempt = 1; attempt <= RECONNECT_ATTEMPTS; attempt++) {
    if (s.lifetime.aborted) return
    try {
      const pipe = await connect(s.lifetime)
      s.log(`reconnected to ${s.peer.slice(0, 16)}… over ${pipe.strategy}`)
      s.node.emit('reconnected', { previous: s.pipe, pipe })
      return
    } catch (err) {
      last = err as Error
      s.log(`reconnect ${attempt}/${RECONNECT_ATTEMPTS} failed: ${last.message}`)
      if (attempt < RECONNECT_ATTEMPTS) {
        await sleep(RECONNECT_SPACING_MS, s.lifetime).catch(() => {})
      }
    }
  }
  if (!s.lifetime.aborted) {
    s.node.emit('reconnect-failed', { peer: s.peer, previous: s.pipe, error: last })
  }
}
