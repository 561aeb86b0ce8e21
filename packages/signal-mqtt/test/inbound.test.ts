import { generateIdentity } from '@p2pd/identity'
import type { Clock } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { InboundPipeline } from '../src/inbound.js'
import {
  type EnvelopePayload,
  emptyMetrics,
  newMessageId,
  SIGNALING_DEFAULTS,
  sealEnvelope,
} from '../src/index.js'

const alice = generateIdentity()
const bob = generateIdentity()

function pipeline(clock: Clock = { now: () => Date.now(), offset: 0, uncertainty: 0 }, over = {}) {
  const metrics = emptyMetrics()
  const logs: string[] = []
  const p = new InboundPipeline({
    identity: bob,
    clock,
    metrics,
    log: (m) => logs.push(m),
    windowMs: SIGNALING_DEFAULTS.windowMs,
    maxEnvelopeBytes: SIGNALING_DEFAULTS.maxEnvelopeBytes,
    maxAppBodyBytes: SIGNALING_DEFAULTS.maxAppBodyBytes,
    replayCacheSize: SIGNALING_DEFAULTS.replayCacheSize,
    perSender: SIGNALING_DEFAULTS.perSenderRate,
    global: SIGNALING_DEFAULTS.globalRate,
    ...over,
  })
  return { p, metrics, logs }
}

function envelope(over: Partial<EnvelopePayload> = {}, from = alice) {
  return sealEnvelope(from, bob.nodeId, {
    v: 1,
    id: newMessageId(),
    ts: Date.now(),
    from: from.nodeId,
    sid: '0123456789abcdef',
    seq: 0,
    type: 'app/x',
    body: { n: 1 },
    ...over,
  })
}

describe('InboundPipeline (defaults)', () => {
  it('delivers a valid message with the verified sender', () => {
    const { p, metrics } = pipeline()
    const m = p.accept(envelope())?.signal
    expect(m?.from).toBe(alice.nodeId)
    expect(m?.message).toEqual({ type: 'app/x', body: { n: 1 } })
    expect(metrics.received).toBe(1)
  })

  it('drops replays and duplicates by (sender, id)', () => {
    const { p, metrics, logs } = pipeline()
    const e = envelope()
    expect(p.accept(e)).toBeDefined()
    expect(p.accept(e)).toBeUndefined()
    expect(p.accept(Uint8Array.from(e))).toBeUndefined()
    expect(metrics.dropped.replayed).toBe(2)
    expect(logs.join('\n')).toMatch(/dropped \(replayed\)/)
  })

  it('drops messages outside ±60 s (plus the clock uncertainty)', () => {
    const { p, metrics } = pipeline({ now: () => Date.now(), offset: 0, uncertainty: 1_000 })
    expect(p.accept(envelope({ ts: Date.now() - 60_500 }))).toBeDefined()
    expect(p.accept(envelope({ ts: Date.now() - 62_000 }))).toBeUndefined()
    expect(p.accept(envelope({ ts: Date.now() + 62_000 }))).toBeUndefined()
    expect(metrics.dropped.expired).toBe(2)
  })

  it('drops unknown types and bad bodies, counted apart', () => {
    const { p, metrics } = pipeline()
    expect(p.accept(envelope({ type: 'evil/thing' }))).toBeUndefined()
    expect(p.accept(envelope({ type: 'reverse/request', body: { token: 'x' } }))).toBeUndefined()
    expect(p.accept(envelope({ type: 'app/big', body: 'x'.repeat(9_000) }))).toBeUndefined()
    expect(metrics.dropped.unknownType).toBe(1)
    expect(metrics.dropped.badBody).toBe(2)
  })

  it('drops oversize payloads before decrypting', () => {
    const { p, metrics } = pipeline()
    expect(p.accept(new Uint8Array(SIGNALING_DEFAULTS.maxEnvelopeBytes + 1))).toBeUndefined()
    expect(metrics.dropped.oversize).toBe(1)
  })

  it('limits each sender to its bucket (burst 200) while others still get through', () => {
    let now = 0
    const { p, metrics } = pipeline(undefined, {
      monotonic: () => now,
      global: { rate: 500, burst: 1_000 },
    })
    const envelopes = Array.from({ length: 230 }, () => envelope())
    const delivered = envelopes.filter((e) => p.accept(e)).length
    expect(delivered).toBe(200)
    expect(metrics.dropped.rateLimited).toBe(30)
    expect(p.accept(envelope({}, generateIdentity()))).toBeDefined()
    now += 100 // 50/s refills 5 tokens in 100 ms
    const later = Array.from({ length: 8 }, () => envelope()).filter((e) => p.accept(e))
    expect(later).toHaveLength(5)
  })

  it('caps all senders together before decrypting', () => {
    const { p, metrics } = pipeline(undefined, {
      global: { rate: 1, burst: 3 },
      monotonic: () => 0,
    })
    const got = [envelope(), envelope(), envelope(), envelope()].map((e) => p.accept(e))
    expect(got.filter(Boolean)).toHaveLength(3)
    expect(metrics.dropped.globalRateLimited).toBe(1)
  })
})
