// The RFC 6062 attribute codecs (from @p2pd/stun) and the server's TCP framing under
// arbitrary input: values or typed errors, never a crash.
import { connect } from 'node:net'
import {
  createMessage,
  decodeConnectionId,
  decodeRequestedTransport,
  encodeConnectionId,
  encodeMessage,
  encodeRequestedTransport,
  newTransactionId,
  StunClass,
  StunError,
  StunMethod,
} from '@p2pd/stun'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TurnServer } from '../src/index.js'

const typed = (f: () => unknown, code: string) => {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(StunError)
    expect((err as StunError).code).toBe(code)
  }
}

describe('CONNECTION-ID and REQUESTED-TRANSPORT codecs', () => {
  it('decode any bytes to a value or STUN_BAD_ATTRIBUTE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        typed(() => {
          const id = decodeConnectionId(bytes)
          expect(bytes.length).toBe(4)
          expect(id).toBeGreaterThanOrEqual(0)
        }, 'STUN_BAD_ATTRIBUTE')
        typed(() => {
          const p = decodeRequestedTransport(bytes)
          expect(bytes.length).toBe(4)
          expect(p).toBe(bytes[0])
        }, 'STUN_BAD_ATTRIBUTE')
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trip every valid value; reject others with STUN_BAD_INPUT', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 255 }),
        (id, p) => {
          expect(decodeConnectionId(encodeConnectionId(id))).toBe(id)
          expect(decodeRequestedTransport(encodeRequestedTransport(p))).toBe(p)
        },
      ),
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -(2 ** 31), max: -1 }),
          fc.double({ min: 2 ** 32, max: 2 ** 52, noNaN: true }).map(Math.floor),
          fc.double({ noInteger: true }),
        ),
        (bad) => {
          expect(() => encodeConnectionId(bad)).toThrow(StunError)
          typed(() => encodeConnectionId(bad), 'STUN_BAD_INPUT')
        },
      ),
    )
    expect(() => encodeRequestedTransport(256)).toThrow(StunError)
  })
})

describe('TurnServer TCP framing under arbitrary bytes', () => {
  it('garbage, truncated and oversized requests close or idle the connection; the server lives', async () => {
    const server = new TurnServer({ users: { u: 'p' }, tcp: { idleTimeoutMs: 300 } })
    const at = await server.start()
    try {
      const valid = encodeMessage(
        createMessage({
          method: StunMethod.ConnectionBind,
          cls: StunClass.Request,
          transactionId: newTransactionId(),
          attributes: [],
        }),
      )
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 300 }),
            fc.uint8Array({ maxLength: 40 }).map((tail) => Buffer.concat([valid, tail])),
            fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
            fc.constant(Buffer.from([0, 3, 0xff, 0xff, 0x21, 0x12, 0xa4, 0x42])),
          ),
          async (bytes) => {
            const s = connect({ host: at.host, port: at.port })
            s.on('error', () => {})
            s.on('data', () => {})
            await new Promise<void>((resolve) => {
              s.once('connect', () => s.write(bytes))
              s.once('close', () => resolve())
              setTimeout(() => {
                s.destroy()
              }, 2000).unref()
            })
          },
        ),
        { numRuns: 25 },
      )
      // Still serving: a fresh connection gets an answer to a Binding request.
      const s = connect({ host: at.host, port: at.port })
      const answered = new Promise<Buffer>((resolve) => s.once('data', resolve))
      s.write(
        encodeMessage(
          createMessage({
            method: StunMethod.Binding,
            cls: StunClass.Request,
            transactionId: newTransactionId(),
            attributes: [],
          }),
        ),
      )
      expect((await answered).readUInt16BE(0)).toBe(0x0101)
      s.destroy()
      expect(server.stats.tcpConnections).toBeGreaterThanOrEqual(26)
    } finally {
      await server.close()
    }
  }, 120_000)
})
