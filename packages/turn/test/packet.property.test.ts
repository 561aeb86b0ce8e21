import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeRst,
  MAX_SACK_RANGES,
  PacketType,
  StreamError,
} from '../src/index.js'

const u32 = fc.integer({ min: 0, max: 0xffffffff })

describe('stream packet codec', () => {
  it('decodes arbitrary bytes or throws only StreamError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          decodePacket(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(StreamError)
          expect((err as StreamError).code).toMatch(/^STREAM_/)
        }
      }),
      { numRuns: 5000 },
    )
  })

  it('survives mutations of valid packets (typed errors only)', () => {
    const valid = fc.oneof(
      fc
        .tuple(u32, u32, u32, fc.uint8Array({ maxLength: 64 }))
        .map(([c, t, s, p]) => encodeData(c, t, s, p)),
      fc.tuple(u32, u32).map(([c, t]) => encodeRst(c, t, 1)),
      fc.tuple(u32, u32, fc.integer({ min: 0, max: 4 })).map(([c, cum, n]) =>
        encodeAck({
          conv: c,
          ts: 1,
          cumAck: cum,
          window: 10,
          echoTs: 5,
          probe: false,
          ranges: Array.from({ length: n }, (_, i) => ({
            start: (cum + 2 + i * 4) >>> 0,
            end: (cum + 4 + i * 4) >>> 0,
          })),
        }),
      ),
    )
    fc.assert(
      fc.property(
        valid,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(),
        (pkt, at, byte, cut) => {
          const m = Buffer.from(pkt)
          m[at % m.length] = byte
          for (const b of [m, m.subarray(0, cut % (m.length + 1))]) {
            try {
              decodePacket(b)
            } catch (err) {
              expect(err).toBeInstanceOf(StreamError)
            }
          }
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('round-trips DATA, FIN, ACK with SACK ranges, RST', () => {
    fc.assert(
      fc.property(u32, u32, u32, fc.uint8Array({ maxLength: 1200 }), (conv, ts, seq, payload) => {
        const d = decodePacket(encodeData(conv, ts, seq, payload))
        expect(d).toMatchObject({ type: PacketType.Data, conv, ts, seq, fin: false })
        expect(Buffer.from((d as { payload: Buffer }).payload).equals(Buffer.from(payload))).toBe(
          true,
        )
        const f = decodePacket(encodeData(conv, ts, seq, new Uint8Array(0), true))
        expect(f).toMatchObject({ type: PacketType.Data, fin: true })
      }),
    )
    fc.assert(
      fc.property(
        u32,
        u32,
        fc.option(u32, { nil: undefined }),
        fc.boolean(),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 })), {
          maxLength: MAX_SACK_RANGES,
        }),
        (conv, cumAck, echoTs, probe, gaps) => {
          let at = cumAck
          const ranges = gaps.map(([gap, len]) => {
            const start = (at + gap) >>> 0
            at = (start + len) >>> 0
            return { start, end: at }
          })
          const ack = { conv, ts: 7, cumAck, window: 99, echoTs, probe, ranges }
          expect(decodePacket(encodeAck(ack))).toEqual({ type: PacketType.Ack, ...ack })
        },
      ),
    )
    expect(decodePacket(encodeRst(1, 2, 3))).toEqual({
      type: PacketType.Rst,
      conv: 1,
      ts: 2,
      reason: 3,
    })
  })

  it('rejects what is malformed with the right code', () => {
    expect(() => decodePacket(Buffer.alloc(3))).toThrow(
      expect.objectContaining({ code: 'STREAM_TRUNCATED' }),
    )
    const bad = encodeRst(1, 1, 0)
    bad[0] = 0x21
    expect(() => decodePacket(bad)).toThrow(expect.objectContaining({ code: 'STREAM_BAD_VERSION' }))
    bad[0] = 0x19
    expect(() => decodePacket(bad)).toThrow(expect.objectContaining({ code: 'STREAM_BAD_TYPE' }))
    const ack = encodeAck({
      conv: 1,
      ts: 1,
      cumAck: 10,
      window: 1,
      echoTs: undefined,
      probe: false,
      ranges: [{ start: 12, end: 11 }],
    })
    expect(() => decodePacket(ack)).toThrow(expect.objectContaining({ code: 'STREAM_BAD_PACKET' }))
  })
})
