import { createCipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ChannelError } from '../src/errors.js'
import { CipherState } from '../src/noise/cipher-state.js'
import { generateX25519 } from '../src/noise/dh.js'
import { HandshakeState } from '../src/noise/handshake.js'

const NO_AD = Buffer.alloc(0)

function chacha(key: Buffer, n: bigint, plaintext: Buffer): Buffer {
  const iv = Buffer.alloc(12)
  iv.writeBigUInt64LE(n, 4)
  const c = createCipheriv('chacha20-poly1305', key, iv, { authTagLength: 16 })
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
}

describe('CipherState', () => {
  it('uses nonce = 4 zero bytes ‖ 64-bit little-endian counter', () => {
    const key = randomBytes(32)
    const cs = new CipherState()
    cs.initializeKey(key)
    cs.setNonce(2 ** 40 + 5)
    const pt = Buffer.from('frame')
    expect(cs.encryptWithAd(NO_AD, pt)).toEqual(chacha(key, 2n ** 40n + 5n, pt))
    expect(cs.nonce).toBe(2 ** 40 + 6)
  })

  it('rekeys per Noise: k = ENCRYPT(k, 2^64−1, ε, zeros)[0:32], nonce kept', () => {
    const key = randomBytes(32)
    const cs = new CipherState()
    cs.initializeKey(key)
    cs.encryptWithAd(NO_AD, Buffer.from('x'))
    cs.rekey()
    const next = chacha(key, 2n ** 64n - 1n, Buffer.alloc(32)).subarray(0, 32)
    expect(cs.nonce).toBe(1)
    expect(cs.encryptWithAd(NO_AD, Buffer.from('y'))).toEqual(chacha(next, 1n, Buffer.from('y')))
  })

  it('does not advance the nonce on a failed decryption', () => {
    const key = randomBytes(32)
    const a = new CipherState()
    const b = new CipherState()
    a.initializeKey(key)
    b.initializeKey(key)
    const ct = a.encryptWithAd(NO_AD, Buffer.from('hello'))
    const bad = Buffer.from(ct)
    bad[0] = (bad[0] as number) ^ 1
    expect(() => b.decryptWithAd(NO_AD, bad)).toThrow(ChannelError)
    expect(b.nonce).toBe(0)
    expect(b.decryptWithAd(NO_AD, ct).toString()).toBe('hello')
  })
})

describe('HandshakeState (XX)', () => {
  const pair = () => {
    const i = new HandshakeState({
      initiator: true,
      prologue: Buffer.from('p'),
      staticKey: generateX25519(),
    })
    const r = new HandshakeState({
      initiator: false,
      prologue: Buffer.from('p'),
      staticKey: generateX25519(),
    })
    return { i, r }
  }

  it('fails typed on any tampered message 2 byte', () => {
    for (let index = 0; index < 96; index += 7) {
      const { i, r } = pair()
      r.readMessage(i.writeMessage())
      const m2 = r.writeMessage(Buffer.from('payload'))
      m2[index] = (m2[index] as number) ^ 0x80
      expect(() => i.readMessage(m2)).toThrow(ChannelError)
      expect(() => i.writeMessage()).toThrow(/failed/)
    }
  })

  it('rejects a low-order ephemeral key, a short message, and out-of-turn calls', () => {
    const { i, r } = pair()
    r.readMessage(Buffer.alloc(32)) // an all-zero (low-order) ephemeral: DH must refuse it
    expect(() => r.writeMessage()).toThrow(ChannelError)
    const fresh = pair()
    expect(() => fresh.r.readMessage(Buffer.alloc(10))).toThrow(ChannelError)
    expect(() => pair().r.writeMessage()).toThrow(/turn/)
    expect(i.isComplete).toBe(false)
  })

  it('rejects a different prologue', () => {
    const i = new HandshakeState({
      initiator: true,
      prologue: Buffer.from('a'),
      staticKey: generateX25519(),
    })
    const r = new HandshakeState({
      initiator: false,
      prologue: Buffer.from('b'),
      staticKey: generateX25519(),
    })
    r.readMessage(i.writeMessage())
    expect(() => i.readMessage(r.writeMessage())).toThrow(ChannelError)
  })
})
