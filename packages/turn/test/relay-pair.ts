import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '@p2pd/identity'
import {
  MemorySignalingHub,
  type PeerAddress,
  type RawConnection,
  type Signaling,
  type SignalMessage,
  type Strategy,
  type StrategyContext,
  systemClock,
} from '@p2pd/interface'
import { expect } from 'vitest'
import { transfer } from './tcp-helpers.js'

function peer(nodeId: string): PeerAddress {
  return { signal: [0], ip4: [], ip6: [], nodeId, legacy: false, machineId: 'm' }
}

/** What the node hands a strategy, for `self` talking to `remote`; its log lines go to `log`. */
export function context(
  signaling: Signaling,
  self: string,
  remote: string,
  log: string[] = [],
): StrategyContext {
  return {
    local: peer(self),
    localText: `address-of-${self}`,
    remote: peer(remote),
    signaling,
    clock: systemClock,
    expectConnection: () => Promise.reject(new Error('not used')),
    log: (m) => log.push(m),
  }
}

/** `s` with every message it publishes passed through `edit` first (none: `s` itself). */
function tampered(s: Signaling, edit?: (m: SignalMessage) => SignalMessage): Signaling {
  if (!edit) return s
  return new Proxy(s, {
    get(target, key) {
      if (key === 'publish') {
        return (to: never, m: SignalMessage, o?: never) => target.publish(to, edit(m), o)
      }
      const v = Reflect.get(target, key) as unknown
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
}

/**
 * Runs one strategy between two in-memory signaling endpoints the way the node does (the
 * answerer routes `accepts` messages to `accept`; an accept may produce nothing — a declined
 * TCP offer — and a later offer the connection), then the secure channel on both ends. Each
 * side's strategy log is kept (`logA`, `logB`); `timeoutMs` bounds connect and accept.
 */
export async function relayedPair(
  offerer: Strategy,
  answerer: Strategy,
  {
    timeoutMs = 10_000,
    editA,
    editB,
  }: {
    timeoutMs?: number
    /** Rewrites what the offerer publishes (a test's tampering); default as is. */
    editA?: (m: SignalMessage) => SignalMessage
    /** The same for the answerer. */
    editB?: (m: SignalMessage) => SignalMessage
  } = {},
) {
  const hub = new MemorySignalingHub()
  const alice = generateIdentity()
  const bob = generateIdentity()
  const sa = hub.connect(alice.nodeId)
  const sb = hub.connect(bob.nodeId)
  await Promise.all([sa.start(), sb.start()])
  const logA: string[] = []
  const logB: string[] = []
  const signal = AbortSignal.timeout(timeoutMs)
  const accepted = new Promise<RawConnection>((resolve, reject) => {
    // Not forever: an answerer that never produces a connection fails the pair at the deadline.
    signal.addEventListener('abort', () => reject(new Error('no connection accepted')), {
      once: true,
    })
    sb.subscribe((inbound) => {
      if (!answerer.accepts?.includes(inbound.message.type)) return
      answerer
        .accept?.(context(tampered(sb, editB), bob.nodeId, inbound.from, logB), inbound, signal)
        .then((raw) => raw && resolve(raw), reject)
    })
  })
  const started = performance.now()
  const [rawA, rawB] = await Promise.all([
    offerer.connect(context(tampered(sa, editA), alice.nodeId, bob.nodeId, logA), signal),
    accepted,
  ])
  const connectMs = performance.now() - started
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
  const close = () => Promise.all([sa.close(), sb.close()])
  return { pa, pb, rawA, rawB, alice, bob, logA, logB, connectMs, close }
}

/** Sends `size` random bytes `from` → `to` and checks they arrive whole (SHA-256). */
export async function exchange(size: number, from: Duplex, to: Duplex): Promise<void> {
  const { sent, received } = await transfer(from, to, size)
  expect(received).toBe(sent)
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
