import { generateIdentity, seal } from '@p2pd/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ENVELOPE_OVERHEAD,
  EnvelopeDrop,
  type EnvelopePayload,
  newMessageId,
  openEnvelope,
  SignalingError,
  sealEnvelope,
} from '../src/index.js'

const alice = generateIdentity()
const bob = generateIdentity()
const eve = generateIdentity()

function payload(over: Partial<EnvelopePayload> = {}): EnvelopePayload {
  return {
    v: 1,
    id: newMessageId(),
    ts: Date.now(),
    from: alice.nodeId,
    sid: '0123456789abcdef',
    seq: 0,
    type: 'app/x',
    body: 1,
    ...over,
  }
}

function dropReason(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(EnvelopeDrop)
    return (err as EnvelopeDrop).reason
  }
  return undefined
}

describe('envelope', () => {
  it('round-trips: 0x01 ‖ sealed box of the JSON payload, 148 bytes of overhead', () => {
    const p = payload({ body: { hello: 'bob' } })
    const bytes = sealEnvelope(alice, bob.nodeId, p)
    expect(bytes[0]).toBe(1)
    expect(bytes.length).toBe(ENVELOPE_OVERHEAD + Buffer.byteLength(JSON.stringify(p)))
    expect(openEnvelope(bob, bytes)).toEqual({ from: alice.nodeId, payload: p })
  })

  it('drops what is not for us, forged, mismatched, malformed, oversize or another version', () => {
    const bytes = sealEnvelope(alice, bob.nodeId, payload())
    expect(dropReason(() => openEnvelope(eve, bytes))).toBe('undecryptable')
    // Eve seals a payload that claims to come from Alice: the box proves it is Eve's.
    const forged = sealEnvelope(eve, bob.nodeId, payload({ from: alice.nodeId }))
    expect(dropReason(() => openEnvelope(bob, forged))).toBe('senderMismatch')
    expect(dropReason(() => openEnvelope(bob, bytes.subarray(0, 40)))).toBe('malformed')
    expect(dropReason(() => openEnvelope(bob, Uint8Array.of(2, ...bytes.subarray(1))))).toBe(
      'version',
    )
    expect(dropReason(() => openEnvelope(bob, new Uint8Array(20_000)))).toBe('oversize')
    const notJson = new Uint8Array([1, ...seal(alice, bob.nodeId, Buffer.from('{nope'))])
    expect(dropReason(() => openEnvelope(bob, notJson))).toBe('malformed')
    const noId = sealEnvelope(alice, bob.nodeId, payload({ id: 'short' }))
    expect(dropReason(() => openEnvelope(bob, noId))).toBe('malformed')
  })

  it('refuses to seal an envelope over the limit', () => {
    expect(() => sealEnvelope(alice, bob.nodeId, payload({ body: 'x'.repeat(20_000) }))).toThrow(
      SignalingError,
    )
  })

  it('drops every single-bit flip (property)', () => {
    const bytes = sealEnvelope(alice, bob.nodeId, payload())
    fc.assert(
      fc.property(fc.nat({ max: bytes.length * 8 - 1 }), (bit) => {
        const t = Uint8Array.from(bytes)
        t[bit >> 3] = (t[bit >> 3] as number) ^ (1 << (bit & 7))
        expect(dropReason(() => openEnvelope(bob, t))).toBeDefined()
      }),
      { numRuns: 300 },
    )
  })

  it('never throws anything but EnvelopeDrop on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(dropReason(() => openEnvelope(bob, bytes))).toBeDefined()
      }),
      { numRuns: 500 },
    )
  })
})
