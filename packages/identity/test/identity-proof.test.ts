import { createHash, createPublicKey, randomBytes, verify as verifyNode } from 'node:crypto'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ECDSA_TAG_PREFIX, ecdsaSign, ecdsaVerify, isLowS, publicKeyObject } from '../src/ecdsa.js'
import { ChannelError } from '../src/errors.js'
import { encodeFrame, FrameDecoder } from '../src/framing.js'
import {
  noiseCredentials,
  STATIC_KEY_DOMAIN,
  verifyIdentityPayload,
} from '../src/handshake-payload.js'
import {
  channelPrologue,
  chooseCipher,
  createHello,
  decodeHello,
  encodeHello,
  HELLO_LENGTH,
} from '../src/hello.js'
import {
  generateIdentity,
  identityFromSecret,
  isNodeId,
  secureChannel,
  sign,
} from '../src/index.js'
import { generateX25519 } from '../src/noise/dh.js'
import { HandshakeState } from '../src/noise/handshake.js'
import { duplexPair } from './helpers/streams.js'

const alice = identityFromSecret(new Uint8Array(32).fill(0x11))
const bob = generateIdentity()
const mallory = generateIdentity()
const N = secp256k1.Point.CURVE().n
const msg = randomBytes(32)

function toBytes32(n: bigint): Buffer {
  return Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
}

/** The same signature with s replaced by n − s: valid ECDSA, but the malleated twin. */
function highS(signature: Uint8Array): Buffer {
  const s = BigInt(`0x${Buffer.from(signature.subarray(32)).toString('hex')}`)
  return Buffer.concat([signature.subarray(0, 32), toBytes32(N - s)])
}

const SPKI = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex')

describe('identity proof: ECDSA-secp256k1-SHA256, low-s', () => {
  it('verifies its own signature, and noble verifies it independently (low-s, tagged)', () => {
    const sig = ecdsaSign(alice, STATIC_KEY_DOMAIN, msg)
    expect(sig.length).toBe(64)
    expect(ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, msg, sig)).toBe(true)
    const tag = createHash('sha256').update(`${ECDSA_TAG_PREFIX}${STATIC_KEY_DOMAIN}`).digest()
    const preimage = Buffer.concat([tag, tag, alice.publicKey, msg])
    expect(secp256k1.verify(sig, preimage, alice.publicKey, { lowS: true })).toBe(true)
    // Deterministic (RFC 6979): the same message gives the same signature.
    expect(ecdsaSign(alice, STATIC_KEY_DOMAIN, msg)).toEqual(sig)
  })

  it('rejects the high-s twin that OpenSSL alone would accept', () => {
    const sig = ecdsaSign(alice, STATIC_KEY_DOMAIN, msg)
    const twin = highS(sig)
    const tag = createHash('sha256').update(`${ECDSA_TAG_PREFIX}${STATIC_KEY_DOMAIN}`).digest()
    const key = createPublicKey({
      key: Buffer.concat([SPKI, alice.publicKey]),
      format: 'der',
      type: 'spki',
    })
    const preimage = Buffer.concat([tag, tag, alice.publicKey, msg])
    expect(verifyNode('sha256', preimage, { key, dsaEncoding: 'ieee-p1363' }, twin)).toBe(true)
    expect(ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, msg, twin)).toBe(false)
  })

  it('the low-s bound is exactly n/2', () => {
    const r = Buffer.alloc(32, 1)
    expect(isLowS(Buffer.concat([r, toBytes32(N >> 1n)]))).toBe(true)
    expect(isLowS(Buffer.concat([r, toBytes32((N >> 1n) + 1n)]))).toBe(false)
    expect(isLowS(Buffer.concat([r, toBytes32(1n)]))).toBe(true)
    expect(isLowS(Buffer.concat([r, toBytes32(N - 1n)]))).toBe(false)
    for (let i = 0; i < 20; i++) {
      const sig = ecdsaSign(alice, STATIC_KEY_DOMAIN, randomBytes(32))
      expect(isLowS(sig)).toBe(true)
      expect(isLowS(highS(sig))).toBe(false)
    }
  })

  it('rejects another domain, message, signer, a BIP-340 signature, and any bit flip', () => {
    const sig = ecdsaSign(alice, STATIC_KEY_DOMAIN, msg)
    expect(ecdsaVerify(alice.publicKey, 'signal', msg, sig)).toBe(false)
    expect(ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, randomBytes(32), sig)).toBe(false)
    expect(ecdsaVerify(bob.publicKey, STATIC_KEY_DOMAIN, msg, sig)).toBe(false)
    const parity = Uint8Array.from(alice.publicKey)
    parity[0] = parity[0] === 2 ? 3 : 2
    expect(ecdsaVerify(parity, STATIC_KEY_DOMAIN, msg, sig)).toBe(false)
    expect(
      ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, msg, sign(alice, STATIC_KEY_DOMAIN, msg)),
    ).toBe(false)
    for (let bit = 0; bit < 512; bit++) {
      const flipped = Buffer.from(sig)
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7))
      expect(ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, msg, flipped)).toBe(false)
    }
    expect(ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, msg, sig.subarray(0, 63))).toBe(false)
    expect(ecdsaVerify(alice.publicKey, STATIC_KEY_DOMAIN, msg, Buffer.alloc(64))).toBe(false)
  })

  it('imports exactly the keys that are node IDs (OpenSSL decompression vs isNodeId)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 33, maxLength: 33 }), fc.boolean(), (key, fix) => {
        if (fix) key[0] = 2 + ((key[0] as number) % 2)
        const hex = Buffer.from(key).toString('hex')
        expect(publicKeyObject(key) !== undefined).toBe(isNodeId(hex))
      }),
      { numRuns: 300 },
    )
    const p = secp256k1.Point.CURVE().p
    // x = 1 is on the curve; its unreduced twin x = p + 1 (> 32 bytes) cannot be encoded, but
    // x = p − k for small k can: those must be judged on their own, never reduced.
    for (const x of [p - 1n, p - 2n, p - 3n]) {
      const key = Buffer.concat([Buffer.from([2]), toBytes32(x)])
      expect(publicKeyObject(key) !== undefined).toBe(isNodeId(key.toString('hex')))
    }
    expect(publicKeyObject(Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 0xff)]))).toBe(
      undefined,
    )
    expect(publicKeyObject(Buffer.concat([Buffer.from([4]), alice.publicKey.subarray(1)]))).toBe(
      undefined,
    )
    expect(publicKeyObject(alice.publicKey)).toBeDefined()
  })
})

describe('handshake identity payload', () => {
  it('proves the node ID that owns the static key', () => {
    const { payload, staticKey } = noiseCredentials(bob)
    expect(verifyIdentityPayload(payload, staticKey.publicRaw)).toBe(bob.nodeId)
  })

  it('rejects a payload replayed with another static key, a foreign key, a high-s twin', () => {
    const { payload, staticKey } = noiseCredentials(bob)
    const other = generateX25519()
    const expectAuth = (p: Buffer, s: Buffer) => {
      try {
        verifyIdentityPayload(p, s)
        expect.unreachable('accepted a forged identity payload')
      } catch (err) {
        expect(err).toBeInstanceOf(ChannelError)
        expect((err as ChannelError).code).toBe('CHANNEL_AUTH')
      }
    }
    expectAuth(payload, other.publicRaw)
    const malloryClaimsBob = Buffer.concat([
      bob.publicKey,
      ecdsaSign(mallory, STATIC_KEY_DOMAIN, staticKey.publicRaw),
    ])
    expectAuth(malloryClaimsBob, staticKey.publicRaw)
    expectAuth(
      Buffer.concat([payload.subarray(0, 33), highS(payload.subarray(33))]),
      staticKey.publicRaw,
    )
    expectAuth(payload.subarray(0, 96), staticKey.publicRaw)
  })

  it('over the wire: an impostor replaying Bob’s identity payload fails with CHANNEL_AUTH', async () => {
    // Mallory answers as the responder with her own Noise static key but Bob's genuine payload
    // (node key + Bob's signature over *Bob's* static key). The initiator must refuse her.
    const [a, b] = duplexPair()
    const dialing = secureChannel(a, {
      identity: alice,
      expectedPeer: bob.nodeId,
      initiator: true,
      timeoutMs: 3000,
    }).catch((e) => e)
    const decoder = new FrameDecoder()
    const next = async (n?: number): Promise<Buffer> => {
      for (;;) {
        const got = n === undefined ? decoder.next() : decoder.nextRaw(n)
        if (got) return got
        const [chunk] = (await new Promise((r) => b.once('data', (c) => r([c])))) as [Buffer]
        decoder.push(chunk)
      }
    }
    b.on('error', () => {})
    const malloryHello = createHello(false, ['ChaChaPoly', 'AESGCM'])
    b.write(encodeHello(malloryHello))
    const aliceHello = await next(HELLO_LENGTH)
    const responder = new HandshakeState({
      initiator: false,
      prologue: channelPrologue(2 ** 20, aliceHello, encodeHello(malloryHello)),
      cipher: chooseCipher(decodeHello(aliceHello), malloryHello),
      staticKey: noiseCredentials(mallory).staticKey,
    })
    responder.readMessage(await next())
    b.write(encodeFrame(responder.writeMessage(noiseCredentials(bob).payload)))
    const err = await dialing
    expect(err).toBeInstanceOf(ChannelError)
    expect(err.code).toBe('CHANNEL_AUTH')
    expect(a.destroyed).toBe(true)
  })
})
