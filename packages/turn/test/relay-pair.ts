import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '@p2pd/identity'
import {
  MemorySignalingHub,
  type PeerAddress,
  type RawConnection,
  type Signaling,
  type Strategy,
  type StrategyContext,
  systemClock,
} from '@p2pd/interface'

function peer(nodeId: string): PeerAddress {
  return { signal: [0], ip4: [], ip6: [], nodeId, legacy: false, machineId: 'm' }
}

function context(signaling: Signaling, self: string, remote: string): StrategyContext {
  return {
    local: peer(self),
    localText: `address-of-${self}`,
    remote: peer(remote),
    signaling,
    clock: systemClock,
    expectConnection: () => Promise.reject(new Error('not used')),
    log: () => {},
  }
}

/**
 * Runs one strategy between two in-memory signaling endpoints the way the node does (the
 * answerer routes `accepts` messages to `accept`), then the secure channel on both ends.
 */
export async function relayedPair(offerer: Strategy, answerer: Strategy) {
  const hub = new MemorySignalingHub()
  const alice = generateIdentity()
  const bob = generateIdentity()
  const sa = hub.connect(alice.nodeId)
  const sb = hub.connect(bob.nodeId)
  await Promise.all([sa.start(), sb.start()])
  const accepted = new Promise<RawConnection>((resolve, reject) => {
    sb.subscribe((inbound) => {
      if (!answerer.accepts?.includes(inbound.message.type)) return
      answerer
        .accept?.(context(sb, bob.nodeId, inbound.from), inbound, AbortSignal.timeout(10_000))
        .then((raw) => (raw ? resolve(raw) : reject(new Error('no connection'))), reject)
    })
  })
  const [rawA, rawB] = await Promise.all([
    offerer.connect(context(sa, alice.nodeId, bob.nodeId), AbortSignal.timeout(10_000)),
    accepted,
  ])
  const secure = (raw: RawConnection, self: typeof alice, other: string) =>
    secureChannel(raw.stream, {
      identity: self,
      expectedPeer: other,
      initiator: raw.initiator,
      timeoutMs: 8000,
      strategy: 'turn',
      path: { local: raw.local, remote: raw.remote, relayed: raw.relayed },
    })
  const [pa, pb] = await Promise.all([
    secure(rawA, alice, bob.nodeId),
    secure(rawB, bob, alice.nodeId),
  ])
  return { pa, pb, close: () => Promise.all([sa.close(), sb.close()]) }
}

/** When (performance.now()) and how a pipe ended: its error, or undefined for a clean close. */
export interface Ending {
  readonly at: number
  readonly error: Error | undefined
}

/** Resolves when `pipe` errors or closes, whichever comes first. */
export function ending(pipe: Duplex): Promise<Ending> {
  return new Promise((resolve) => {
    pipe.once('error', (error) => resolve({ at: performance.now(), error }))
    pipe.once('close', () => resolve({ at: performance.now(), error: undefined }))
  })
}

/**
 * Keeps `from` writing 16 KiB every 10 ms to `to` (which reads everything) until `from`
 * fails; resolves once `minBytes` arrived, so the fault lands mid-stream.
 */
export async function keepStreaming(from: Duplex, to: Duplex, minBytes = 64 * 1024) {
  let received = 0
  const chunk = Buffer.alloc(16 * 1024, 7)
  const timer = setInterval(() => {
    if (from.destroyed || from.writableLength > 256 * 1024) return
    from.write(chunk, () => {})
  }, 10)
  from.once('close', () => clearInterval(timer))
  await new Promise<void>((resolve) => {
    to.on('data', (d: Buffer) => {
      received += d.length
      if (received >= minBytes) resolve()
    })
  })
  return { stop: () => clearInterval(timer), received: () => received }
}
