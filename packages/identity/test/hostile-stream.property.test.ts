import { randomBytes } from 'node:crypto'
import { isP2pdError } from '@p2pd/interface'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChannelError } from '../src/errors.js'
import { FrameOpener } from '../src/frame-opener.js'
import { generateIdentity, type SecurePipe, secureChannel } from '../src/index.js'
import { CipherState } from '../src/noise/cipher-state.js'
import { duplexPair } from './helpers/streams.js'

// After a real handshake, a man in the middle rewrites the encrypted stream one way: garbage
// inserted, the stream cut short, a byte flipped, a frame claiming the largest length, or all
// of it replaced with noise. Whatever it does, the receiving pipe hands out only a prefix of
// what was sent (never an altered byte), a clean end only with everything, otherwise a typed
// P2pdError; never a crash or a hang.

const alice = generateIdentity()
const bob = generateIdentity()
/** Generous: a run is a handshake plus a few KiB; this only catches hangs and runaways. */
const SETTLE_MS = 10_000

/** Alice → Bob, with everything Alice sends after the handshake held back for tampering. */
async function interceptedPair() {
  const [a, aInner] = duplexPair()
  const [bInner, b] = duplexPair()
  let armed = false
  const captured: Buffer[] = []
  let aEnded = false
  aInner.on('data', (c: Buffer) => (armed ? captured.push(Buffer.from(c)) : bInner.write(c)))
  aInner.on('end', () => {
    aEnded = true
  })
  bInner.on('data', (c: Buffer) => aInner.write(c))
  for (const s of [a, aInner, bInner, b]) s.on('error', () => {})
  const [pa, pb] = await Promise.all([
    secureChannel(a, {
      identity: alice,
      expectedPeer: bob.nodeId,
      initiator: true,
      timeoutMs: 10_000,
    }),
    secureChannel(b, {
      identity: bob,
      expectedPeer: alice.nodeId,
      initiator: false,
      timeoutMs: 10_000,
    }),
  ])
  armed = true
  return {
    pa,
    pb,
    /** Waits until Alice ended her side, and returns her encrypted bytes. */
    async wire(): Promise<Buffer> {
      await expectSoon(() => aEnded)
      return Buffer.concat(captured)
    },
    /** Delivers `bytes` to Bob in these pieces, then the attacker's FIN. */
    deliver(bytes: Buffer, cuts: number[]): void {
      let last = 0
      for (const p of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y)) {
        bInner.write(bytes.subarray(last, p))
        last = p
      }
      bInner.write(bytes.subarray(last))
      bInner.end()
    },
    close(): void {
      pa.destroy()
      pb.destroy()
    },
  }
}

async function expectSoon(done: () => boolean): Promise<void> {
  const t0 = performance.now()
  while (!done()) {
    if (performance.now() - t0 > SETTLE_MS) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** What Bob's pipe did: the bytes it handed out, and how it ended. */
function outcome(pb: SecurePipe): Promise<{ data: Buffer; end: 'clean' | unknown }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const timer = setTimeout(
      () => reject(new Error('the pipe neither ended nor failed')),
      SETTLE_MS,
    )
    const settle = (end: unknown) => {
      clearTimeout(timer)
      resolve({ data: Buffer.concat(chunks), end })
    }
    pb.on('data', (c: Buffer) => chunks.push(c))
    pb.once('end', () => settle('clean'))
    pb.once('error', (err) => settle(err))
    pb.once('close', () => settle(new Error('closed without end or error')))
  })
}

type Mutation =
  | { kind: 'garbage'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'huge'; at: number; body: number }
  | { kind: 'noise'; bytes: Uint8Array }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('garbage' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('huge' as const),
    at: fc.nat(),
    body: fc.integer({ min: 0, max: 70_000 }),
  }),
  fc.record({
    kind: fc.constant('noise' as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 3000 }),
  }),
)

function apply(wire: Buffer, m: Mutation): Buffer {
  switch (m.kind) {
    case 'garbage': {
      const at = m.at % (wire.length + 1)
      return Buffer.concat([wire.subarray(0, at), m.bytes, wire.subarray(at)])
    }
    case 'truncate':
      return wire.subarray(0, m.at % wire.length)
    case 'flip': {
      const out = Buffer.from(wire)
      const at = m.at % out.length
      out[at] = (out[at] as number) ^ m.xor
      return out
    }
    case 'huge': {
      const at = m.at % (wire.length + 1)
      return Buffer.concat([
        wire.subarray(0, at),
        Buffer.of(0xff, 0xff),
        randomBytes(m.body),
        wire.subarray(at),
      ])
    }
    case 'noise':
      return Buffer.from(m.bytes)
  }
}

describe('a secure pipe under a man in the middle, after the handshake', () => {
  it('only a prefix of the sent bytes, a clean end only with all of them, else a typed error (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 2000 }), { minLength: 1, maxLength: 5 }),
        mutation,
        fc.array(fc.nat(), { maxLength: 4 }),
        async (messages, m, cuts) => {
          const pair = await interceptedPair()
          try {
            for (const msg of messages) pair.pa.write(msg)
            pair.pa.end()
            const sent = Buffer.concat(messages)
            const wire = await pair.wire()
            const t0 = performance.now()
            const result = outcome(pair.pb)
            pair.deliver(apply(wire, m), cuts)
            const { data, end } = await result
            expect(performance.now() - t0).toBeLessThan(SETTLE_MS)
            // Never a byte that was not sent, nor out of order.
            expect(data.equals(sent.subarray(0, data.length)), `${m.kind}: altered data`).toBe(true)
            if (end === 'clean') {
              // Only garbage after the authenticated close frame can go unnoticed.
              expect(data.length, `${m.kind}: clean end without all data`).toBe(sent.length)
            } else {
              expect(isP2pdError(end), `${m.kind}: ${String(end)}`).toBe(true)
            }
          } finally {
            pair.close()
          }
        },
      ),
      { numRuns: 60 },
    )
  }, 120_000)

  it('an untampered stream still ends cleanly with everything (the harness can tell)', async () => {
    const pair = await interceptedPair()
    const sent = randomBytes(5000)
    pair.pa.end(sent)
    const wire = await pair.wire()
    const result = outcome(pair.pb)
    pair.deliver(wire, [7, 100, 3000])
    const { data, end } = await result
    expect(end).toBe('clean')
    expect(data.equals(sent)).toBe(true)
    pair.close()
  })

  it('garbage after the authenticated close frame: everything was delivered, nothing breaks', async () => {
    const pair = await interceptedPair()
    const sent = randomBytes(300)
    pair.pa.end(sent)
    const wire = await pair.wire()
    const result = outcome(pair.pb)
    pair.deliver(Buffer.concat([wire, randomBytes(5000)]), [wire.length])
    const { data, end } = await result
    expect(data.equals(sent)).toBe(true)
    if (end !== 'clean') expect(isP2pdError(end), String(end)).toBe(true)
    pair.close()
  })
})

describe('FrameOpener on its own: hostile bytes under any chunking', () => {
  it('noise never yields plaintext; only ChannelError; each chunk is handled in bounded time (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 70_000 }), { minLength: 1, maxLength: 4 }),
        (chunks) => {
          const receive = new CipherState()
          receive.initializeKey(randomBytes(32))
          const opener = new FrameOpener(receive, 2 ** 20)
          let plaintexts = 0
          for (const chunk of chunks) {
            const t0 = performance.now()
            try {
              opener.push(Buffer.from(chunk), () => plaintexts++)
            } catch (err) {
              expect(err).toBeInstanceOf(ChannelError)
              expect(['CHANNEL_DECRYPT', 'CHANNEL_FRAME_MALFORMED']).toContain(
                (err as ChannelError).code,
              )
              break
            } finally {
              // A 64 KiB chunk is one or two AEAD opens: far below this on any machine.
              expect(performance.now() - t0).toBeLessThan(2_000)
            }
          }
          expect(plaintexts).toBe(0)
        },
      ),
      { numRuns: 200 },
    )
  })
})
