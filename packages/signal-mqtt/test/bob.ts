import { createHash } from 'node:crypto'
import { generateIdentity } from '@p2pd/identity'
import { InboundPipeline } from '../src/inbound.js'
import type { InboundQueue } from '../src/inbound-queue.js'
import {
  emptyMetrics,
  mintStampSync,
  newMessageId,
  type RateLimit,
  SIGNALING_DEFAULTS,
  sealEnvelope,
} from '../src/index.js'

/** The receiving node of the inbound-path tests. */
export const bob = generateIdentity()
/** Stamp difficulty of the tests: cheap to mint, still checked. */
export const BITS = 8

/**
 * Bob's receive path with a frozen clock for the buckets (nothing refills); a `stamped` budget
 * turns the stamped lane on at {@link BITS}.
 */
export function bobPipeline(global: RateLimit = { rate: 1, burst: 1 }, stamped?: RateLimit) {
  const metrics = emptyMetrics()
  const p = new InboundPipeline({
    identity: bob,
    clock: { now: () => Date.now(), offset: 0, uncertainty: 0 },
    metrics,
    log: () => {},
    windowMs: SIGNALING_DEFAULTS.windowMs,
    maxEnvelopeBytes: SIGNALING_DEFAULTS.maxEnvelopeBytes,
    maxAppBodyBytes: SIGNALING_DEFAULTS.maxAppBodyBytes,
    replayCacheSize: SIGNALING_DEFAULTS.replayCacheSize,
    perSender: SIGNALING_DEFAULTS.perSenderRate,
    global,
    ...(stamped ? { stamped, powBits: BITS } : {}),
    monotonic: () => 0,
  })
  return { p, metrics }
}

/** A stranger's first envelope to Bob, with a stamp unless `stamp` is false. */
export function firstContact(body: string, stamp = true) {
  const sender = generateIdentity()
  const raw = sealEnvelope(sender, bob.nodeId, {
    v: 1,
    id: newMessageId(),
    ts: Date.now(),
    from: sender.nodeId,
    sid: '0123456789abcdef',
    seq: 0,
    type: 'app/x',
    body,
  })
  const digest = createHash('sha256').update(raw).digest()
  return { raw, pow: stamp ? mintStampSync(digest, BITS) : undefined }
}

/** Resolves once the queue has handed everything on. */
export const drained = (q: InboundQueue) =>
  new Promise<void>((resolve) => {
    const poll = () => (q.pending === 0 ? resolve() : setImmediate(poll))
    poll()
  })
