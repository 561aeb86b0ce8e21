import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChannelError } from '../src/errors.js'
import { CipherState } from '../src/noise/cipher-state.js'
import { ghashKey, ghashMultiply } from '../src/noise/ghash.js'
import { SMALL_AEAD_MAX, SmallAesGcm } from '../src/noise/small-aes-gcm.js'

const NO_AD = Buffer.alloc(0)

/** The Noise AES-GCM nonce: 4 zero bytes ‖ 64-bit big-endian counter. */
function iv(n: number): Buffer {
  const b = Buffer.alloc(12)
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 4)
  b.writeUInt32BE(n % 2 ** 32, 8)
  return b
}

function nodeSeal(key: Buffer, n: number, plaintext: Uint8Array): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv(n), { authTagLength: 16 })
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
}

function nodeOpen(key: Buffer, n: number, body: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv(n), { authTagLength: 16 })
  d.setAuthTag(body.subarray(body.length - 16))
  return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()])
}

function seal(gcm: SmallAesGcm, n: number, plaintext: Uint8Array, offset = 0): Buffer {
  const out = Buffer.alloc(offset + plaintext.length + 16, 0xee)
  gcm.seal(n, plaintext, out, offset)
  return out.subarray(offset)
}

/** GF(2^128) multiply straight from NIST SP 800-38D, Algorithm 1 (bit by bit, BigInt). */
function referenceMultiply(x: bigint, y: bigint): bigint {
  const R = 0xe1n << 120n
  let z = 0n
  let v = y
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n
  }
  return z
}

const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`)
const nonce = fc.oneof(
  fc.nat({ max: 100 }),
  fc.integer({ min: 2 ** 32 - 50, max: 2 ** 32 + 50 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }),
)

describe('GHASH (constant-time, 32-bit multiplies)', () => {
  it('multiplies as NIST SP 800-38D Algorithm 1 does', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (h, x) => {
          const y = new Int32Array(4)
          const view = new DataView(x.buffer, x.byteOffset, 16)
          for (let w = 0; w < 4; w++) y[w] = view.getInt32(4 * w)
          ghashMultiply(y, ghashKey(h))
          const got = Buffer.alloc(16)
          for (let w = 0; w < 4; w++) got.writeInt32BE(y[w] as number, 4 * w)
          expect(toBig(got)).toBe(referenceMultiply(toBig(x), toBig(h)))
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('SmallAesGcm', () => {
  it('matches the GCM spec test cases 13 and 14 (K = 0^256, IV = 0^96)', () => {
    const gcm = new SmallAesGcm(Buffer.alloc(32))
    expect(seal(gcm, 0, Buffer.alloc(0)).toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b')
    expect(seal(gcm, 0, Buffer.alloc(16)).toString('hex')).toBe(
      'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919',
    )
  })

  it('is byte-identical to node:crypto both ways (any key, nonce, length ≤ 128)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        nonce,
        fc.uint8Array({ maxLength: SMALL_AEAD_MAX }),
        fc.nat({ max: 7 }),
        (k, n, plaintext, offset) => {
          const key = Buffer.from(k)
          const expected = nodeSeal(key, n, plaintext)
          expect(seal(new SmallAesGcm(key), n, plaintext, offset).equals(expected)).toBe(true)
          expect(new SmallAesGcm(key).open(n, expected).equals(Buffer.from(plaintext))).toBe(true)
          // node:crypto opens ours too (already implied by equality, but the point of the test).
          expect(nodeOpen(key, n, expected).equals(Buffer.from(plaintext))).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('rejects any altered frame with CHANNEL_DECRYPT and no plaintext', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        nonce,
        fc.uint8Array({ maxLength: SMALL_AEAD_MAX }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (k, n, plaintext, at, flip) => {
          const gcm = new SmallAesGcm(Buffer.from(k))
          const body = seal(gcm, n, plaintext)
          const bad = Buffer.from(body)
          const i = at % bad.length
          bad[i] = (bad[i] as number) ^ flip
          let error: unknown
          try {
            gcm.open(n, bad)
          } catch (err) {
            error = err
          }
          expect(error).toBeInstanceOf(ChannelError)
          expect((error as ChannelError).code).toBe('CHANNEL_DECRYPT')
          // The same frame under another nonce (replayed, reordered) fails too.
          expect(() => gcm.open(n + 1, body)).toThrow(ChannelError)
          expect(gcm.open(n, body).equals(Buffer.from(plaintext))).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('keeps matching node:crypto across keystream batches, jumps and the 2^32 carry', () => {
    const key = randomBytes(32)
    const gcm = new SmallAesGcm(key)
    const nonces = [
      ...Array.from({ length: 200 }, (_, i) => i),
      5,
      1000,
      999,
      2 ** 32 - 3,
      2 ** 32 - 2,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + 1,
      Number.MAX_SAFE_INTEGER - 1,
    ]
    for (const n of nonces) {
      const plaintext = randomBytes(n % (SMALL_AEAD_MAX + 1))
      expect(seal(gcm, n, plaintext).equals(nodeSeal(key, n, plaintext))).toBe(true)
    }
  })

  it('refuses lengths it does not handle', () => {
    const gcm = new SmallAesGcm(randomBytes(32))
    expect(() => seal(gcm, 0, Buffer.alloc(SMALL_AEAD_MAX + 1))).toThrow(RangeError)
    expect(() => gcm.open(0, Buffer.alloc(15))).toThrow(RangeError)
    expect(() => gcm.open(0, Buffer.alloc(SMALL_AEAD_MAX + 17))).toThrow(RangeError)
  })
})

describe('CipherState with AESGCM (small messages take SmallAesGcm)', () => {
  it('is the same AES-GCM whatever the message size, nonce or rekey', () => {
    const key = randomBytes(32)
    const a = new CipherState('AESGCM')
    const b = new CipherState('AESGCM')
    a.initializeKey(key)
    b.initializeKey(key)
    let current = key
    for (let i = 0; i < 60; i++) {
      const plaintext = randomBytes([0, 1, 64, 127, 128, 129, 1000][i % 7] as number)
      const n = a.nonce
      const body = a.encryptWithAd(NO_AD, plaintext)
      expect(body.equals(nodeSeal(current, n, plaintext))).toBe(true)
      expect(b.decryptWithAd(NO_AD, body).equals(plaintext)).toBe(true)
      if (i % 25 === 24) {
        a.rekey()
        b.rekey()
        const c = createCipheriv(
          'aes-256-gcm',
          current,
          Buffer.from('00000000ffffffffffffffff', 'hex'),
        )
        current = c.update(Buffer.alloc(32)).subarray(0, 32)
      }
    }
  })

  it('does not advance the nonce on a bad small frame', () => {
    const key = randomBytes(32)
    const a = new CipherState('AESGCM')
    const b = new CipherState('AESGCM')
    a.initializeKey(key)
    b.initializeKey(key)
    for (let i = 0; i < 3; i++) b.decryptWithAd(NO_AD, a.encryptWithAd(NO_AD, Buffer.from('warm')))
    const body = a.encryptWithAd(NO_AD, Buffer.from('hello'))
    const bad = Buffer.from(body)
    bad[body.length - 1] = (bad[body.length - 1] as number) ^ 0x80
    expect(() => b.decryptWithAd(NO_AD, bad)).toThrow(ChannelError)
    expect(b.nonce).toBe(3)
    expect(b.decryptWithAd(NO_AD, body).toString()).toBe('hello')
  })
})
