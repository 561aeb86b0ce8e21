import { randomBytes } from 'node:crypto'
import { Duplex } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChannelError } from '../src/errors.js'
import { encodeFrame, FrameDecoder, MAX_FRAME_LENGTH } from '../src/framing.js'
import { CipherState } from '../src/noise/cipher-state.js'
import { SecurePipe } from '../src/secure-pipe.js'
import { sealFrame } from '../src/transport-frame.js'

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let last = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p))
    last = p
  }
  return out
}

describe('frame decoder', () => {
  it('reassembles frames across any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bodies, cuts) => {
          const wire = Buffer.concat(bodies.map((b) => encodeFrame(b)))
          const decoder = new FrameDecoder()
          const got: Buffer[] = []
          for (const chunk of split(wire, cuts)) {
            decoder.push(chunk)
            for (let f = decoder.next(); f; f = decoder.next()) got.push(Buffer.from(f))
          }
          expect(got).toEqual(bodies.map((b) => Buffer.from(b)))
          expect(decoder.buffered).toBe(0)
        },
      ),
    )
  })

  it('rejects an oversized length from the prefix alone', () => {
    const decoder = new FrameDecoder({ maxLength: 1024 })
    decoder.push(Buffer.from([0x04, 0x01]))
    expect(() => decoder.next()).toThrow(ChannelError)
    try {
      decoder.next()
    } catch (err) {
      expect((err as ChannelError).code).toBe('CHANNEL_FRAME_TOO_LARGE')
    }
    const transport = new FrameDecoder({ minLength: 16 })
    transport.push(Buffer.from([0x00, 0x05, 1, 2, 3, 4, 5]))
    expect(() => transport.next()).toThrow(/< 16/)
    expect(MAX_FRAME_LENGTH).toBe(65535)
  })

  it('fuzz: random chunks never crash or hang, only typed errors', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 10 }), (chunks) => {
        const decoder = new FrameDecoder({ maxLength: 1024, minLength: 16 })
        try {
          for (const c of chunks) {
            decoder.push(Buffer.from(c))
            for (let i = 0; i < 10_000 && decoder.next(); i++);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(ChannelError)
        }
      }),
      { numRuns: 500 },
    )
  })
})

/** A SecurePipe over a stream we feed by hand, with matching keys on a "sender" cipher. */
function feedablePipe(rekeyInterval = 2 ** 20) {
  const key = randomBytes(32)
  const mk = () => {
    const c = new CipherState()
    c.initializeKey(key)
    return c
  }
  const stream = new Duplex({ read() {}, write: (_c, _e, cb) => cb() })
  const pipe = new SecurePipe({
    stream,
    send: mk(),
    receive: mk(),
    remotePeer: 'peer',
    strategy: 'direct',
    path: { local: { host: '', port: 0 }, remote: { host: '', port: 0 }, relayed: false },
    handshakeHash: Buffer.alloc(32),
    rekeyInterval,
    leftover: [],
    allowHalfOpen: false,
    closeTimeoutMs: 100,
  })
  return { stream, pipe, sender: mk() }
}

/** Settles with the pipe's fate: its data, and its error if any (never hangs: 2 s cap). */
function outcome(pipe: SecurePipe): Promise<{ data: Buffer; error?: Error; ended: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let ended = false
    const done = (error?: Error) => {
      clearTimeout(timer)
      resolve({ data: Buffer.concat(chunks), error, ended })
    }
    const timer = setTimeout(() => done(new Error('hang')), 2000)
    pipe.on('data', (c: Buffer) => chunks.push(c))
    pipe.on('end', () => {
      ended = true
      done()
    })
    pipe.on('error', (e) => done(e))
  })
}

describe('transport decoding (fuzz)', () => {
  it('random bytes into a pipe give a typed error, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 6 }),
        async (chunks) => {
          const { stream, pipe } = feedablePipe()
          const result = outcome(pipe)
          for (const c of chunks) stream.push(Buffer.from(c))
          stream.push(null)
          const { error, data } = await result
          expect(error).toBeInstanceOf(ChannelError)
          expect(data.length).toBe(0)
          expect(pipe.destroyed).toBe(true)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('mutated valid frames are rejected; intact ones are delivered in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (messages, where, xor, cuts) => {
          const { stream, pipe, sender } = feedablePipe(2)
          const wire = Buffer.concat([
            ...messages.map((m) => sealFrame(sender, m, 2)),
            sealFrame(sender, new Uint8Array(0), 2),
          ])
          const index = where % wire.length
          wire[index] = (wire[index] as number) ^ xor
          const result = outcome(pipe)
          for (const c of split(wire, cuts)) stream.push(c)
          stream.push(null)
          const { error, data } = await result
          expect(error).toBeInstanceOf(ChannelError)
          // Whatever was delivered is an intact prefix of what was sent.
          expect(
            Buffer.concat(messages.map((m) => Buffer.from(m))).subarray(0, data.length),
          ).toEqual(data)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('an intact stream with rekeying every 2 frames decodes in full', async () => {
    const { stream, pipe, sender } = feedablePipe(2)
    const messages = Array.from({ length: 9 }, (_, i) => randomBytes(10 + i * 100))
    const wire = Buffer.concat([
      ...messages.map((m) => sealFrame(sender, m, 2)),
      sealFrame(sender, new Uint8Array(0), 2),
    ])
    const result = outcome(pipe)
    for (const c of split(wire, [5, 17, 400, 401, 2000])) stream.push(c)
    stream.push(null)
    const { error, data, ended } = await result
    expect(error).toBeUndefined()
    expect(ended).toBe(true)
    expect(data).toEqual(Buffer.concat(messages))
  })
})
