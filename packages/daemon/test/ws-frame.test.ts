import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CloseCode,
  closePayload,
  decodeFrame,
  encodeFrame,
  FrameDecoder,
  Opcode,
  parseClosePayload,
  WsProtocolError,
} from '../src/index.js'

const limits = { maxPayload: 1 << 16, requireMask: true }
const mask = fc.uint8Array({ minLength: 4, maxLength: 4 })
const dataFrame = fc.record({
  fin: fc.boolean(),
  opcode: fc.constantFrom(Opcode.Continuation, Opcode.Text, Opcode.Binary),
  payload: fc.uint8Array({ maxLength: 70_000 }).map((p) => p.subarray(0, 1 << 16)),
})
const controlFrame = fc.record({
  fin: fc.constant(true),
  opcode: fc.constantFrom(Opcode.Close, Opcode.Ping, Opcode.Pong),
  payload: fc.uint8Array({ maxLength: 125 }),
})
const anyFrame = fc.oneof(dataFrame, controlFrame)

/** Decodes by feeding `bytes` to a FrameDecoder in pieces cut at `cuts`. */
function feed(bytes: Buffer, cuts: number[]) {
  const decoder = new FrameDecoder(limits)
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  let at = 0
  const frames = []
  for (const p of [...points, bytes.length]) {
    frames.push(...decoder.push(bytes.subarray(at, p)))
    at = p
  }
  return { frames, pending: decoder.pending }
}

describe('RFC 6455 frames', () => {
  it('a masked frame round-trips, whatever the split of its bytes (property)', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { maxLength: 4 }), mask, fc.array(fc.nat()), (fs, m, cuts) => {
        const bytes = Buffer.concat(fs.map((f) => encodeFrame(f, m)))
        const { frames, pending } = feed(bytes, cuts)
        expect(pending).toBe(0)
        expect(
          frames.map((f) => [f.fin, f.opcode, Buffer.from(f.payload).toString('hex')]),
        ).toEqual(fs.map((f) => [f.fin, f.opcode, Buffer.from(f.payload).toString('hex')]))
      }),
      { numRuns: 200 },
    )
  })

  it('arbitrary bytes: frames, "need more", or a typed WsProtocolError with 1002/1009 (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, requireMask) => {
        try {
          const got = decodeFrame(bytes, { maxPayload: 100, requireMask })
          if (got) {
            expect(got.size).toBeLessThanOrEqual(bytes.length)
            expect(got.frame.payload.length).toBeLessThanOrEqual(100)
          }
        } catch (err) {
          expect(err).toBeInstanceOf(WsProtocolError)
          expect([CloseCode.ProtocolError, CloseCode.TooBig]).toContain(
            (err as WsProtocolError).closeCode,
          )
          expect((err as WsProtocolError).code).toMatch(/^WS_(PROTOCOL|TOO_BIG)$/)
        }
      }),
      { numRuns: 2_000 },
    )
  })

  it('a mutated valid frame never crashes the decoder (property)', () => {
    fc.assert(
      fc.property(anyFrame, mask, fc.nat(), fc.integer({ min: 0, max: 255 }), (f, m, at, byte) => {
        const bytes = encodeFrame(f, m)
        bytes[at % bytes.length] = byte
        try {
          new FrameDecoder(limits).push(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(WsProtocolError)
        }
      }),
      { numRuns: 1_000 },
    )
  })

  const refused: Array<[string, number[], number]> = [
    ['reserved bits', [0xc2, 0x80, 0, 0, 0, 0], CloseCode.ProtocolError],
    ['reserved opcode', [0x83, 0x80, 0, 0, 0, 0], CloseCode.ProtocolError],
    ['unmasked client frame', [0x82, 0x01, 0x41], CloseCode.ProtocolError],
    ['fragmented ping', [0x09, 0x80, 0, 0, 0, 0], CloseCode.ProtocolError],
    ['control frame over 125 bytes', [0x89, 0xfe, 0x00, 0x7e], CloseCode.ProtocolError],
    ['non-minimal 16-bit length', [0x82, 0xfe, 0x00, 0x05], CloseCode.ProtocolError],
    [
      '64-bit length with the top bit',
      [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
      CloseCode.ProtocolError,
    ],
    [
      'payload over the limit (from the header)',
      [0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0],
      CloseCode.TooBig,
    ],
  ]
  for (const [what, bytes, code] of refused) {
    it(`refuses ${what} with ${code}`, () => {
      let caught: unknown
      try {
        decodeFrame(Uint8Array.from(bytes), limits)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(WsProtocolError)
      expect((caught as WsProtocolError).closeCode).toBe(code)
    })
  }

  it('waits for the rest of a header or payload instead of guessing', () => {
    const whole = encodeFrame(
      { opcode: Opcode.Binary, payload: Buffer.alloc(300, 7) },
      Buffer.from([1, 2, 3, 4]),
    )
    for (let n = 0; n < whole.length; n++)
      expect(decodeFrame(whole.subarray(0, n), limits)).toBeUndefined()
    expect(decodeFrame(whole, limits)?.size).toBe(whole.length)
  })

  it('close payloads: status and reason; reserved and out-of-range codes refused', () => {
    expect(parseClosePayload(closePayload(1000, 'bye'))).toEqual({ code: 1000, reason: 'bye' })
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ reason: '' })
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2000, 5000]) {
      expect(() => parseClosePayload(closePayload(code))).toThrow(WsProtocolError)
    }
    expect(() => parseClosePayload(Buffer.from([3]))).toThrow(WsProtocolError)
  })
})
