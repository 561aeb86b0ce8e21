import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AttrType,
  createMessage,
  decodeMessage,
  encodeMessage,
  readAttributes,
  StunClass,
  StunError,
  verifyIntegrity,
} from '../src/index.js'

const classes = Object.values(StunClass)
const reserved = new Set<number>([
  AttrType.MessageIntegrity,
  AttrType.MessageIntegritySha256,
  AttrType.Fingerprint,
])

const attributeArb = fc.record({
  type: fc
    .oneof(fc.constantFrom(...Object.values(AttrType)), fc.integer({ min: 0, max: 0xffff }))
    .filter((t) => !reserved.has(t)),
  value: fc.uint8Array({ maxLength: 48 }),
})

const messageArb = fc.record({
  method: fc.integer({ min: 0, max: 0xfff }),
  cls: fc.constantFrom(...classes),
  transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  attributes: fc.array(attributeArb, { maxLength: 12 }),
})

const optionsArb = fc.record({
  fingerprint: fc.boolean(),
  integrity: fc.option(
    fc.record({
      key: fc.uint8Array({ minLength: 1, maxLength: 32 }),
      algorithm: fc.constantFrom('sha1' as const, 'sha256' as const, 'both' as const),
    }),
    { nil: undefined },
  ),
  padByte: fc.integer({ min: 0, max: 255 }),
})

/** Runs everything a receiver would run on untrusted bytes; only StunError may escape. */
function receive(bytes: Uint8Array): void {
  for (const allowLegacy of [false, true]) {
    try {
      const msg = decodeMessage(bytes, { allowLegacy })
      readAttributes(msg)
      verifyIntegrity(msg, Buffer.from('key'))
    } catch (err) {
      if (!(err instanceof StunError)) throw err
      expect(err.code).toMatch(/^STUN_/)
    }
  }
}

describe('codec properties', () => {
  it('random bytes only ever yield a StunError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => receive(bytes)),
      { numRuns: 3000 },
    )
  })

  it('random bytes behind a plausible header only ever yield a StunError', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x3fff }),
        fc.uint8Array({ maxLength: 200 }),
        (type, body) => {
          const bytes = Buffer.alloc(20 + body.length)
          bytes.writeUInt16BE(type, 0)
          bytes.writeUInt16BE(body.length, 2)
          bytes.writeUInt32BE(0x2112a442, 4)
          bytes.set(body, 20)
          receive(bytes)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('mutated valid messages only ever yield a StunError', () => {
    fc.assert(
      fc.property(
        messageArb,
        optionsArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        (msg, opts, flips, cut) => {
          const bytes = Buffer.from(encodeMessage(msg, opts))
          for (const [at, value] of flips) bytes[at % bytes.length] = value
          receive(cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1)))
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('encode → decode is the identity, and integrity verifies', () => {
    fc.assert(
      fc.property(messageArb, optionsArb, (msg, opts) => {
        const bytes = encodeMessage(msg, opts)
        expect(bytes.length % 4).toBe(0)
        const decoded = decodeMessage(bytes)
        expect(decoded.method).toBe(msg.method)
        expect(decoded.cls).toBe(msg.cls)
        expect(Buffer.from(decoded.transactionId)).toEqual(Buffer.from(msg.transactionId))
        const extra =
          (opts.integrity ? (opts.integrity.algorithm === 'both' ? 2 : 1) : 0) +
          (opts.fingerprint ? 1 : 0)
        expect(decoded.attributes).toHaveLength(msg.attributes.length + extra)
        msg.attributes.forEach((a, i) => {
          expect(decoded.attributes[i]?.type).toBe(a.type)
          expect(Buffer.from(decoded.attributes[i]?.value ?? [])).toEqual(Buffer.from(a.value))
        })
        if (opts.integrity) expect(verifyIntegrity(decoded, opts.integrity.key)).toBe(true)
        // Re-encoding the decoded attributes gives the same bytes (padding aside).
        const again = encodeMessage(createMessage({ ...decoded }), { padByte: opts.padByte })
        expect(again.equals(bytes)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})
