import { createDecipheriv, createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  generateIdentity,
  IdentityError,
  identityFromSecret,
  open,
  SEALED_BOX_OVERHEAD,
  seal,
} from '../src/index.js'
import { sealWith } from '../src/sealed-box.js'

const hex = (s: string) => Buffer.from(s, 'hex')
const alice = generateIdentity()
const bob = generateIdentity()
const text = new TextEncoder().encode('{"type":"punch","at":1700000000}')

function codeOf(f: () => unknown): string {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(IdentityError)
    return (err as IdentityError).code
  }
  throw new Error('expected an IdentityError')
}

interface BoxVector {
  sender_secret: string
  sender_node_id: string
  recipient_secret: string
  recipient_node_id: string
  ephemeral_secret: string
  signature_aux_rand: string
  domain: string
  plaintext: string
  box: string
}
const { vectors } = JSON.parse(
  readFileSync(new URL('./vectors/sealed-box.json', import.meta.url), 'utf8'),
) as { vectors: BoxVector[] }

describe('sealed boxes', () => {
  it('round-trips and names the sender', () => {
    const box = seal(alice, bob.nodeId, text)
    expect(box.length).toBe(text.length + SEALED_BOX_OVERHEAD)
    const opened = open(bob, box)
    expect(opened.from).toBe(alice.nodeId)
    expect(Buffer.from(opened.plaintext)).toEqual(Buffer.from(text))
    // Fresh ephemeral key each time.
    expect(Buffer.from(seal(alice, bob.nodeId, text))).not.toEqual(Buffer.from(box))
  })

  it('hides the sender: its key is not in the box', () => {
    const box = Buffer.from(seal(alice, bob.nodeId, text))
    expect(box.includes(hex(alice.nodeId))).toBe(false)
    expect(box.includes(hex(alice.nodeId).subarray(1))).toBe(false)
  })

  it('opens only for the recipient and the domain', () => {
    const box = seal(alice, bob.nodeId, text, { domain: 'signal' })
    expect(codeOf(() => open(alice, box))).toBe('IDENTITY_BOX_DECRYPT')
    expect(codeOf(() => open(bob, box, { domain: 'other' }))).toBe('IDENTITY_BOX_DECRYPT')
    expect(
      open(bob, seal(alice, bob.nodeId, text, { domain: 'rest/v1' }), { domain: 'rest/v1' }).from,
    ).toBe(alice.nodeId)
  })

  it('reproduces the committed vectors', () => {
    for (const v of vectors) {
      const sender = identityFromSecret(hex(v.sender_secret))
      const recipient = identityFromSecret(hex(v.recipient_secret))
      expect(sender.nodeId).toBe(v.sender_node_id)
      expect(recipient.nodeId).toBe(v.recipient_node_id)
      const box = sealWith(
        sender,
        recipient.nodeId,
        hex(v.plaintext),
        { domain: v.domain },
        hex(v.ephemeral_secret),
        hex(v.signature_aux_rand),
      )
      expect(Buffer.from(box).toString('hex')).toBe(v.box)
      const opened = open(recipient, hex(v.box), { domain: v.domain })
      expect(opened.from).toBe(v.sender_node_id)
      expect(Buffer.from(opened.plaintext).toString('hex')).toBe(v.plaintext)
    }
  })

  it('matches an independent decoding of the vectors (noble ECDH + HKDF)', () => {
    for (const v of vectors) {
      const box = hex(v.box)
      const eph = box.subarray(1, 34)
      const recipientPk = hex(v.recipient_node_id)
      const shared = secp256k1.getSharedSecret(hex(v.recipient_secret), eph, true).subarray(1)
      const salt = Buffer.concat([Buffer.of(1), eph, recipientPk])
      const okm = hkdf(
        sha256,
        shared,
        salt,
        new TextEncoder().encode(`p2pd/v1/box/${v.domain}`),
        44,
      )
      const d = createDecipheriv('chacha20-poly1305', okm.subarray(0, 32), okm.subarray(32), {
        authTagLength: 16,
      })
      d.setAAD(box.subarray(0, 34), { plaintextLength: box.length - 34 - 16 })
      d.setAuthTag(box.subarray(box.length - 16))
      const inner = Buffer.concat([d.update(box.subarray(34, box.length - 16)), d.final()])
      expect(inner.subarray(0, 33).toString('hex')).toBe(v.sender_node_id)
      expect(inner.subarray(97).toString('hex')).toBe(v.plaintext)
      const tag = createHash('sha256').update(`p2pd/v1/box/${v.domain}`).digest()
      const signed = Buffer.concat([Buffer.of(1), eph, recipientPk, inner.subarray(97)])
      const digest = createHash('sha256')
        .update(tag)
        .update(tag)
        .update(inner.subarray(0, 33))
        .update(signed)
        .digest()
      expect(schnorr.verify(inner.subarray(33, 97), digest, inner.subarray(1, 33))).toBe(true)
    }
  })

  it('fails to open after any single-bit flip', () => {
    const box = seal(alice, bob.nodeId, Uint8Array.of(1, 2, 3, 4))
    const codes = new Set<string>()
    for (let bit = 0; bit < box.length * 8; bit++) {
      const tampered = Uint8Array.from(box)
      tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7))
      codes.add(codeOf(() => open(bob, tampered)))
    }
    expect([...codes].every((c) => c.startsWith('IDENTITY_BOX_'))).toBe(true)
  })

  it('fails to open any truncation or extension', () => {
    const box = seal(alice, bob.nodeId, text)
    for (let n = 0; n < box.length; n++) codeOf(() => open(bob, box.subarray(0, n)))
    codeOf(() => open(bob, Uint8Array.from([...box, 0])))
  })

  it('rejects a forged sender (valid box, signature by someone else)', () => {
    // Mallory seals with her key but the box claims nothing: from is always the real signer.
    const mallory = generateIdentity()
    expect(open(bob, seal(mallory, bob.nodeId, text)).from).toBe(mallory.nodeId)
  })

  it('bounds sizes', () => {
    expect(codeOf(() => seal(alice, bob.nodeId, new Uint8Array(64 * 1024 + 1)))).toBe(
      'IDENTITY_BOX_TOO_LARGE',
    )
    const big = seal(alice, bob.nodeId, new Uint8Array(100_000), { maxPlaintext: 100_000 })
    expect(codeOf(() => open(bob, big))).toBe('IDENTITY_BOX_TOO_LARGE')
    expect(open(bob, big, { maxPlaintext: 100_000 }).plaintext.length).toBe(100_000)
    expect(codeOf(() => seal(alice, 'nope', text))).toBe('IDENTITY_INVALID_NODE_ID')
    expect(codeOf(() => seal(alice, bob.nodeId, text, { domain: 'Bad' }))).toBe(
      'IDENTITY_INVALID_DOMAIN',
    )
  })

  it('never throws anything but IdentityError on random input', () => {
    const valid = seal(alice, bob.nodeId, text)
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const b = Uint8Array.from(valid)
            b[i] = (b[i] as number) ^ x
            return b
          }),
          fc.uint8Array({ minLength: 33, maxLength: 33 }).map((k) => {
            const b = Uint8Array.from(valid)
            b.set(k, 1)
            return b
          }),
        ),
        (box) => {
          codeOf(() => open(bob, box))
        },
      ),
      { numRuns: 300 },
    )
  })
})
