import { createCipheriv, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultCiphers } from '../src/cipher-preference.js'
import { chooseCipher, createHello, decodeHello, encodeHello, HELLO_LENGTH } from '../src/hello.js'
import {
  ChannelError,
  generateIdentity,
  type SecureChannelOptions,
  type SecurePipe,
  secureChannel,
} from '../src/index.js'
import { CipherState, type NoiseCipher } from '../src/noise/cipher-state.js'
import { duplexPair, middlebox, tcpPair } from './helpers/streams.js'

const alice = generateIdentity()
const bob = generateIdentity()

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

type Prefs = readonly NoiseCipher[] | undefined

async function connect(
  a: Duplex,
  b: Duplex,
  left: Prefs,
  right: Prefs,
  extra: { leftInitiator?: boolean; rightInitiator?: boolean } = {},
) {
  const opts = (ciphers: Prefs): Partial<SecureChannelOptions> => (ciphers ? { ciphers } : {})
  const results = await Promise.allSettled([
    secureChannel(a, {
      identity: alice,
      expectedPeer: bob.nodeId,
      initiator: extra.leftInitiator ?? true,
      timeoutMs: 5000,
      ...opts(left),
    }),
    secureChannel(b, {
      identity: bob,
      expectedPeer: alice.nodeId,
      initiator: extra.rightInitiator ?? false,
      timeoutMs: 5000,
      ...opts(right),
    }),
  ])
  for (const r of results) if (r.status === 'fulfilled') cleanups.push(() => r.value.destroy())
  return results
}

async function negotiated(left: Prefs, right: Prefs): Promise<[SecurePipe, SecurePipe]> {
  const [a, b] = duplexPair()
  const [l, r] = await connect(a, b, left, right)
  if (l.status === 'rejected') throw l.reason
  if (r.status === 'rejected') throw r.reason
  return [l.value, r.value]
}

const codeOf = (r: PromiseSettledResult<unknown>) =>
  r.status === 'rejected' ? (r.reason as { code?: string }).code : 'ok'

describe('AEAD negotiation', () => {
  it('prefers AES-GCM on a CPU with AES instructions, and always offers ChaChaPoly', async () => {
    const mine = defaultCiphers()
    expect(mine.at(-1)).toBe('ChaChaPoly')
    expect(mine.includes('AESGCM')).toBe(mine.length === 2)
    const [pa, pb] = await negotiated(undefined, undefined)
    expect([pa.cipher, pb.cipher]).toEqual([mine[0], mine[0]])
    // A peer without AES still meets us on ChaChaPoly.
    const [pc, pd] = await negotiated(undefined, ['ChaChaPoly'])
    expect([pc.cipher, pd.cipher]).toEqual(['ChaChaPoly', 'ChaChaPoly'])
  })

  it('takes the initiator’s preference among the ciphers both offer, both ways', async () => {
    const both: NoiseCipher[] = ['AESGCM', 'ChaChaPoly']
    const chachaFirst: NoiseCipher[] = ['ChaChaPoly', 'AESGCM']
    for (const [left, right, expected] of [
      [both, chachaFirst, 'AESGCM'],
      [chachaFirst, both, 'ChaChaPoly'],
      [both, ['ChaChaPoly'], 'ChaChaPoly'],
      [['ChaChaPoly'], both, 'ChaChaPoly'],
      [['AESGCM'], both, 'AESGCM'],
    ] as const) {
      const [pa, pb] = await negotiated(left, right)
      expect([pa.cipher, pb.cipher]).toEqual([expected, expected])
      expect(pa.handshakeHash.equals(pb.handshakeHash)).toBe(true)
    }
  })

  it('carries data both ways under each cipher over TCP', async () => {
    for (const cipher of ['AESGCM', 'ChaChaPoly'] as const) {
      const { client, server } = await tcpPair()
      cleanups.push(
        () => client.destroy(),
        () => server.destroy(),
      )
      const [l, r] = await connect(client, server, [cipher], [cipher])
      if (l.status === 'rejected' || r.status === 'rejected') throw new Error('handshake failed')
      const [pa, pb] = [l.value, r.value]
      expect(pa.cipher).toBe(cipher)
      const data = randomBytes(300_000)
      pb.on('data', (c: Buffer) => pb.write(c))
      const back: Buffer[] = []
      let n = 0
      const done = new Promise<void>((resolve) =>
        pa.on('data', (c: Buffer) => {
          back.push(c)
          n += c.length
          if (n === data.length) resolve()
        }),
      )
      pa.write(data)
      await done
      expect(Buffer.concat(back).equals(data)).toBe(true)
    }
  })

  it('fails on both sides with CHANNEL_HELLO when no cipher is in common', async () => {
    const [a, b] = duplexPair()
    const [l, r] = await connect(a, b, ['AESGCM'], ['ChaChaPoly'])
    expect(codeOf(l)).toBe('CHANNEL_HELLO')
    expect(codeOf(r)).toBe('CHANNEL_HELLO')
  })

  it('agrees on the cipher after a simultaneous open (both dialled)', async () => {
    for (let i = 0; i < 6; i++) {
      const [a, b] = duplexPair()
      const [l, r] = await connect(a, b, ['AESGCM', 'ChaChaPoly'], ['ChaChaPoly', 'AESGCM'], {
        leftInitiator: true,
        rightInitiator: true,
      })
      if (l.status === 'rejected' || r.status === 'rejected') throw new Error('handshake failed')
      expect(l.value.cipher).toBe(r.value.cipher)
    }
  })

  it('rejects bad `ciphers` options before touching the stream', async () => {
    for (const ciphers of [[], ['DES'], ['AESGCM', 'AESGCM'], 'AESGCM']) {
      const [a] = duplexPair()
      await expect(
        secureChannel(a, {
          identity: alice,
          expectedPeer: bob.nodeId,
          initiator: true,
          ciphers: ciphers as never,
        }),
      ).rejects.toBeInstanceOf(TypeError)
      expect(a.destroyed).toBe(false)
    }
  })
})

describe('AEAD negotiation under attack (the hellos are in the prologue)', () => {
  /** Rewrites the cipher list (bytes 6–7) of the first hello in each direction it is set for. */
  function rewriteHellos(toRight?: number[], toLeft?: number[]) {
    const box = middlebox()
    const rewrite = (list: number[] | undefined) => {
      let first = true
      return (chunk: Buffer): Buffer[] => {
        if (!first || !list) return [chunk]
        first = false
        expect(chunk.length).toBeGreaterThanOrEqual(HELLO_LENGTH)
        const out = Buffer.from(chunk)
        out[6] = list[0] as number
        out[7] = list[1] as number
        return [out]
      }
    }
    box.tamper.toRight = rewrite(toRight)
    box.tamper.toLeft = rewrite(toLeft)
    return box
  }

  it('a downgrade of the initiator’s offer (AES-GCM struck out) fails the handshake', async () => {
    const box = rewriteHellos([1, 0]) // ChaChaPoly only
    const [l, r] = await connect(box.left, box.right, ['AESGCM', 'ChaChaPoly'], undefined)
    expect(codeOf(l)).toBe('CHANNEL_HANDSHAKE')
    expect(r.status).toBe('rejected')
  })

  it('both offers rewritten consistently (both sides agree on ChaChaPoly) still fails', async () => {
    const box = rewriteHellos([1, 0], [1, 0])
    const [l, r] = await connect(
      box.left,
      box.right,
      ['AESGCM', 'ChaChaPoly'],
      ['AESGCM', 'ChaChaPoly'],
    )
    expect(codeOf(l)).toBe('CHANNEL_HANDSHAKE')
    expect(r.status).toBe('rejected')
    expect((l as PromiseRejectedResult).reason).toBeInstanceOf(ChannelError)
  })

  it('a flipped preference order (each side then picks differently) fails', async () => {
    const box = rewriteHellos([1, 2]) // the initiator seems to prefer ChaChaPoly
    const [l, r] = await connect(
      box.left,
      box.right,
      ['AESGCM', 'ChaChaPoly'],
      ['AESGCM', 'ChaChaPoly'],
    )
    expect(codeOf(l)).toBe('CHANNEL_HANDSHAKE')
    expect(r.status).toBe('rejected')
  })

  it('the untouched exchange through the same middlebox succeeds (control)', async () => {
    const box = rewriteHellos(undefined, undefined)
    const [l, r] = await connect(box.left, box.right, ['AESGCM', 'ChaChaPoly'], undefined)
    expect([codeOf(l), codeOf(r)]).toEqual(['ok', 'ok'])
  })
})

describe('hello cipher list and AES-GCM nonces', () => {
  it('round-trips the cipher list; unknown ids and duplicates are dropped', () => {
    const hello = createHello(true, ['AESGCM', 'ChaChaPoly'])
    const bytes = encodeHello(hello)
    expect(bytes.length).toBe(HELLO_LENGTH)
    expect(decodeHello(bytes).ciphers).toEqual(['AESGCM', 'ChaChaPoly'])
    bytes[6] = 9
    expect(decodeHello(bytes).ciphers).toEqual(['ChaChaPoly'])
    bytes[6] = 1
    expect(decodeHello(bytes).ciphers).toEqual(['ChaChaPoly'])
    bytes[6] = 0
    bytes[7] = 0
    const none = decodeHello(bytes)
    expect(() => chooseCipher(none, hello)).toThrow(ChannelError)
  })

  it('uses the Noise nonce encodings: AESGCM big-endian, ChaChaPoly little-endian', () => {
    const key = randomBytes(32)
    const plaintext = randomBytes(100)
    for (const [cipher, algorithm, nonce] of [
      ['AESGCM', 'aes-256-gcm', '000000000000000000000005'],
      ['ChaChaPoly', 'chacha20-poly1305', '000000000500000000000000'],
    ] as const) {
      const state = new CipherState(cipher)
      state.initializeKey(key)
      state.setNonce(5)
      const got = state.encryptWithAd(Buffer.alloc(0), plaintext)
      const c = createCipheriv(algorithm as 'aes-256-gcm', key, Buffer.from(nonce, 'hex'), {
        authTagLength: 16,
      })
      const want = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
      expect(got.equals(want)).toBe(true)
    }
  })
})
