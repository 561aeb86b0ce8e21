import { createHash } from 'node:crypto'
import { schnorr } from '@noble/curves/secp256k1.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateIdentity, IdentityError, identityFromSecret, sign, verify } from '../src/index.js'

const alice = identityFromSecret(new Uint8Array(32).fill(0x11))
const msg = new TextEncoder().encode('connect to 127.0.0.1:4000')

describe('signatures (BIP-340 Schnorr, domain-separated)', () => {
  it('verifies its own signatures', () => {
    const sig = sign(alice, 'signal', msg)
    expect(sig.length).toBe(64)
    expect(verify(alice.nodeId, 'signal', msg, sig)).toBe(true)
  })

  it('is a BIP-340 signature over the tagged hash of pk ‖ message', () => {
    const sig = sign(alice, 'signal', msg)
    const tag = createHash('sha256').update('p2pd/v1/signal').digest()
    const digest = createHash('sha256')
      .update(tag)
      .update(tag)
      .update(Buffer.from(alice.nodeId, 'hex'))
      .update(msg)
      .digest()
    expect(schnorr.verify(sig, digest, Buffer.from(alice.nodeId, 'hex').subarray(1))).toBe(true)
  })

  it('rejects another domain, message, signer or key parity', () => {
    const sig = sign(alice, 'signal', msg)
    expect(verify(alice.nodeId, 'signal2', msg, sig)).toBe(false)
    expect(verify(alice.nodeId, 'signal', msg.subarray(1), sig)).toBe(false)
    expect(verify(generateIdentity().nodeId, 'signal', msg, sig)).toBe(false)
    // Same x, other parity: BIP-340 alone would accept; hashing the full key does not.
    const flipped = (alice.nodeId.startsWith('02') ? '03' : '02') + alice.nodeId.slice(2)
    expect(verify(flipped, 'signal', msg, sig)).toBe(false)
  })

  it('returns false, never throws, on bad input', () => {
    const sig = sign(alice, 'signal', msg)
    expect(verify('5b6b92b37b765963ab61d52a3', 'signal', msg, sig)).toBe(false)
    expect(verify(alice.nodeId, 'BAD DOMAIN', msg, sig)).toBe(false)
    expect(verify(alice.nodeId, 'signal', msg, sig.subarray(1))).toBe(false)
    expect(verify(alice.nodeId, 'signal', 'text' as unknown as Uint8Array, sig)).toBe(false)
    expect(verify(null as unknown as string, 'signal', msg, sig)).toBe(false)
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 60, maxLength: 68 }),
        (nodeId, domain, m, s) => verify(nodeId, domain, m, s) === false,
      ),
      { numRuns: 300 },
    )
  })

  it('rejects bad domains when signing', () => {
    for (const domain of ['', 'Upper', 'space here', 'x'.repeat(65), '/lead']) {
      expect(() => sign(alice, domain, msg)).toThrow(IdentityError)
    }
  })
})
