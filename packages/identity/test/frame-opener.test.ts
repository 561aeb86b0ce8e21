import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChannelError } from '../src/errors.js'
import { FrameOpener } from '../src/frame-opener.js'
import { MAX_FRAME_PLAINTEXT } from '../src/framing.js'
import { CipherState } from '../src/noise/cipher-state.js'
import { sealFrame } from '../src/transport-frame.js'

function ciphers(rekeyInterval: number) {
  const key = randomBytes(32)
  const mk = () => {
    const c = new CipherState()
    c.initializeKey(key)
    return c
  }
  const sender = mk()
  return {
    seal: (plaintext: Uint8Array) => sealFrame(sender, plaintext, rekeyInterval),
    opener: new FrameOpener(mk(), rekeyInterval),
  }
}

function cut(bytes: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let last = 0
  for (const p of [...sorted, bytes.length]) {
    out.push(bytes.subarray(last, p))
    last = p
  }
  return out
}

/** Same frames, same bytes (vitest's deep equality walks buffers byte by byte: slow at 64 KiB). */
function expectSame(frames: Buffer[], messages: Buffer[]): void {
  expect(frames.map((f) => f.length)).toEqual(messages.map((m) => m.length))
  expect(frames.every((f, i) => f.equals(messages[i] as Buffer))).toBe(true)
}

/** Feeds `chunks`, collecting each authenticated frame's plaintext; stops at an error. */
function feed(opener: FrameOpener, chunks: Buffer[]): { frames: Buffer[]; error?: unknown } {
  const frames: Buffer[] = []
  try {
    for (const c of chunks) opener.push(c, (plaintext) => frames.push(plaintext))
  } catch (error) {
    return { frames, error }
  }
  return { frames }
}

describe('frame opener (decrypts frames straddling socket chunks without reassembly)', () => {
  it('opens full-size frames cut the way a socket cuts them (64 KiB reads)', () => {
    const { seal, opener } = ciphers(3)
    const messages = Array.from({ length: 7 }, () => randomBytes(MAX_FRAME_PLAINTEXT))
    const wire = Buffer.concat(messages.map(seal))
    const chunks: Buffer[] = []
    for (let o = 0; o < wire.length; o += 65536) chunks.push(wire.subarray(o, o + 65536))
    const { frames, error } = feed(opener, chunks)
    expect(error).toBeUndefined()
    expectSame(frames, messages)
    expect(opener.midFrame).toBe(false)
  })

  it('opens any frames under any chunking, with rekeying, byte-identical', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: MAX_FRAME_PLAINTEXT }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (sizes, points) => {
          const { seal, opener } = ciphers(2)
          const messages = sizes.map((n) => randomBytes(n))
          const wire = Buffer.concat(messages.map(seal))
          const { frames, error } = feed(opener, cut(wire, points))
          expect(error).toBeUndefined()
          expectSame(frames, messages)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('opens frames split at every byte boundary, and fed one byte at a time (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 3 }),
        (sizes) => {
          const key = randomBytes(32)
          const sender = new CipherState()
          sender.initializeKey(key)
          const messages = sizes.map((n) => randomBytes(n))
          const wire = Buffer.concat(messages.map((m) => sealFrame(sender, m, 2)))
          const fresh = () => {
            const c = new CipherState()
            c.initializeKey(key)
            return new FrameOpener(c, 2)
          }
          for (let p = 0; p <= wire.length; p++) {
            const opener = fresh()
            const { frames, error } = feed(opener, [wire.subarray(0, p), wire.subarray(p)])
            expect(error).toBeUndefined()
            expectSame(frames, messages)
            expect(opener.midFrame).toBe(false)
          }
          const bytes = Array.from(wire, (_, i) => wire.subarray(i, i + 1))
          const { frames, error } = feed(fresh(), bytes)
          expect(error).toBeUndefined()
          expectSame(frames, messages)
        },
      ),
      { numRuns: 10 },
    )
  })

  it('opens a full-size frame cut next to its prefix, at 64 KiB and around its tag', () => {
    const message = randomBytes(MAX_FRAME_PLAINTEXT)
    const after = Buffer.from('after')
    const first = 2 + MAX_FRAME_PLAINTEXT + 16 // the first frame's wire length
    for (const p of [0, 1, 2, 3, 65_536, first - 17, first - 16, first - 1, first, first + 1]) {
      const { seal, opener } = ciphers(2 ** 20)
      const wire = Buffer.concat([seal(message), seal(after)])
      const { frames, error } = feed(opener, [wire.subarray(0, p), wire.subarray(p)])
      expect(error).toBeUndefined()
      expectSame(frames, [message, after])
    }
  })

  it('cut inside the length prefix and inside the tag', () => {
    const { seal, opener } = ciphers(2 ** 20)
    const message = randomBytes(10_000)
    const wire = seal(message)
    const tagStart = wire.length - 16
    const { frames, error } = feed(opener, cut(wire, [1, 2, 500, tagStart, tagStart + 7]))
    expect(error).toBeUndefined()
    expectSame(frames, [message])
  })

  it('never releases plaintext of a straddling frame that fails authentication', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_FRAME_PLAINTEXT }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        (size, where, xor, points) => {
          const { seal, opener } = ciphers(2 ** 20)
          const good = randomBytes(300)
          const first = seal(good)
          const bad = seal(randomBytes(size))
          // Flip a byte of the second frame's body (after its prefix): ciphertext or tag.
          const index = 2 + (where % (bad.length - 2))
          bad[index] = (bad[index] as number) ^ xor
          const wire = Buffer.concat([first, bad])
          const { frames, error } = feed(opener, cut(wire, points))
          expect(error).toBeInstanceOf(ChannelError)
          expect((error as ChannelError).code).toBe('CHANNEL_DECRYPT')
          expectSame(frames, [good])
        },
      ),
      { numRuns: 100 },
    )
  })

  it('rejects a frame shorter than a tag from its prefix alone', () => {
    const { opener } = ciphers(2 ** 20)
    const { error, frames } = feed(opener, [Buffer.from([0]), Buffer.from([15])])
    expect((error as ChannelError).code).toBe('CHANNEL_FRAME_MALFORMED')
    expect(frames).toEqual([])
  })

  it('reports a partial frame (for truncation), and the close frame as an empty plaintext', () => {
    const { seal, opener } = ciphers(2 ** 20)
    const wire = Buffer.concat([seal(Buffer.from('x')), seal(new Uint8Array(0))])
    const seen: number[] = []
    opener.push(wire.subarray(0, 5), (plaintext) => seen.push(plaintext.length))
    expect(opener.midFrame).toBe(true)
    opener.push(wire.subarray(5), (plaintext) => seen.push(plaintext.length))
    expect(opener.midFrame).toBe(false)
    expect(seen).toEqual([1, 0])
  })

  it('AES-GCM small frames (sealed and opened without node:crypto) under any chunking, rekeying', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
        (sizes, points, rekeyInterval, flip) => {
          const key = randomBytes(32)
          const mk = () => {
            const c = new CipherState('AESGCM')
            c.initializeKey(key)
            return c
          }
          const sender = mk()
          const messages = sizes.map((n) => randomBytes(n))
          const sealed = messages.map((m) => sealFrame(sender, m, rekeyInterval))
          let good = messages.length
          if (flip) {
            // Alter one frame's body (not its prefix): it and everything after it are lost.
            const [where, xor] = flip
            const victim = where % sealed.length
            const frame = sealed[victim] as Buffer
            const i = 2 + (where % (frame.length - 2))
            frame[i] = (frame[i] as number) ^ xor
            good = victim
          }
          const { frames, error } = feed(
            new FrameOpener(mk(), rekeyInterval),
            cut(Buffer.concat(sealed), points),
          )
          if (flip) {
            expect(error).toBeInstanceOf(ChannelError)
            expect((error as ChannelError).code).toBe('CHANNEL_DECRYPT')
          } else {
            expect(error).toBeUndefined()
          }
          expectSame(frames, messages.slice(0, good))
        },
      ),
      { numRuns: 200 },
    )
  })
})
