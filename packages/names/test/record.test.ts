import { generateIdentity, identityFromSecret } from '@p2pd/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeRecord,
  encodeRecord,
  FINGERPRINT_LENGTH,
  fingerprint,
  isName,
  MAX_RECORD_BYTES,
  NameError,
  nameFor,
  nameTopic,
  ownsName,
  parseName,
  signRecord,
  verifyRecord,
} from '../src/index.js'
import { addressOf, nowS } from './helpers.js'

const alice = identityFromSecret(new Uint8Array(32).fill(7))
const mallory = generateIdentity()

function record(overrides: { seq?: number; expires?: number; label?: string } = {}) {
  return signRecord(alice, {
    name: nameFor(overrides.label ?? 'alice', alice.nodeId),
    address: addressOf(alice),
    seq: overrides.seq ?? 1,
    expires: overrides.expires ?? nowS() + 3600,
  })
}

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
    return undefined
  } catch (err) {
    expect(err).toBeInstanceOf(NameError)
    return (err as NameError).code
  }
}

describe('names', () => {
  it('are <label>.<16 base32 chars of the key hash>, stable for a key', () => {
    const name = nameFor('alice', alice.nodeId)
    expect(name).toMatch(/^alice\.[a-z2-7]{16}$/)
    expect(name.split('.')[1]).toHaveLength(FINGERPRINT_LENGTH)
    expect(nameFor('alice', alice.nodeId)).toBe(name)
    expect(fingerprint(alice.nodeId)).not.toBe(fingerprint(mallory.nodeId))
    expect(ownsName(alice.nodeId, name)).toBe(true)
    expect(ownsName(mallory.nodeId, name)).toBe(false)
    expect(parseName(name)).toEqual({ label: 'alice', fingerprint: fingerprint(alice.nodeId) })
  })

  it('refuses bad labels and shapes', () => {
    const fp = fingerprint(alice.nodeId)
    for (const bad of [
      '',
      `.${fp}`,
      `-a.${fp}`,
      `a-.${fp}`,
      `Alice.${fp}`,
      `al_ice.${fp}`,
      `${'a'.repeat(33)}.${fp}`,
      `alice.${fp.slice(1)}`,
      `alice.${fp}x`,
      `alice.${fp.toUpperCase()}`,
      `a.b.${fp}`,
      'alice',
    ]) {
      expect(isName(bad), bad).toBe(false)
      expect(
        code(() => parseName(bad)),
        bad,
      ).toBe('NAME_INVALID')
    }
    expect(isName(`${'a'.repeat(32)}.${fp}`)).toBe(true)
    expect(isName(`a-1.${fp}`)).toBe(true)
    expect(code(() => nameFor('Bad!', alice.nodeId))).toBe('NAME_INVALID')
  })

  it('topics are hashed: fixed length, no MQTT wildcards, one per name', () => {
    const a = nameTopic(nameFor('alice', alice.nodeId))
    const b = nameTopic(nameFor('bob', alice.nodeId))
    expect(a).toMatch(/^p2pd\/v1\/name\/[0-9a-f]{32}$/)
    expect(a).not.toBe(b)
  })

  it('isName never throws and agrees with parseName (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const ok = isName(s)
        expect(code(() => parseName(s))).toBe(ok ? undefined : 'NAME_INVALID')
      }),
    )
  })
})

describe('name records', () => {
  it('round-trip through the binary codec and verify', () => {
    const r = record({ seq: 1_700_000_000_123 })
    const bytes = encodeRecord(r)
    expect(bytes.length).toBeLessThan(MAX_RECORD_BYTES)
    const back = decodeRecord(bytes)
    expect(back).toEqual(r)
    expect(() => verifyRecord(back, { name: r.name })).not.toThrow()
  })

  it('only the key owner can sign a record for a name, or point it at another node', () => {
    const name = nameFor('alice', alice.nodeId)
    expect(
      code(() =>
        signRecord(mallory, { name, address: addressOf(mallory), seq: 1, expires: nowS() + 60 }),
      ),
    ).toBe('NAME_RECORD_KEY')
    expect(
      code(() =>
        signRecord(alice, { name, address: addressOf(mallory), seq: 1, expires: nowS() + 60 }),
      ),
    ).toBe('NAME_RECORD_KEY')
  })

  it('forged records are refused by verify', () => {
    const r = record()
    // Mallory's key, Alice's name: signature valid for Mallory, fingerprint is not hers.
    const stolen = signRecord(mallory, {
      name: nameFor('alice', mallory.nodeId),
      address: addressOf(mallory),
      seq: 9,
      expires: nowS() + 60,
    })
    expect(code(() => verifyRecord({ ...stolen, name: r.name }, { name: r.name }))).toBe(
      'NAME_RECORD_KEY',
    )
    // A changed address or seq breaks the signature.
    expect(code(() => verifyRecord({ ...r, address: addressOf(alice, 4001) }))).toBe(
      'NAME_RECORD_SIGNATURE',
    )
    expect(code(() => verifyRecord({ ...r, seq: r.seq + 1 }))).toBe('NAME_RECORD_SIGNATURE')
    const sig = Uint8Array.from(r.signature)
    sig[5] = (sig[5] as number) ^ 1
    expect(code(() => verifyRecord({ ...r, signature: sig }))).toBe('NAME_RECORD_SIGNATURE')
    // Another name of the same owner is not the name asked for.
    const other = record({ label: 'bob' })
    expect(code(() => verifyRecord(other, { name: r.name }))).toBe('NAME_RECORD_OTHER_NAME')
  })

  it('expired and implausibly long-lived records are refused (with clock-skew slack)', () => {
    const expired = record({ expires: nowS() - 120 })
    expect(code(() => verifyRecord(expired))).toBe('NAME_RECORD_EXPIRED')
    const justExpired = record({ expires: nowS() - 10 })
    expect(code(() => verifyRecord(justExpired))).toBeUndefined()
    expect(code(() => verifyRecord(justExpired, { skewMs: 0 }))).toBe('NAME_RECORD_EXPIRED')
    const tooLong = record({ expires: nowS() + 30 * 24 * 3600 })
    expect(code(() => verifyRecord(tooLong))).toBe('NAME_RECORD_EXPIRED')
  })

  it('refuses oversized, truncated, trailing and wrong-version bytes', () => {
    const bytes = encodeRecord(record())
    expect(code(() => decodeRecord(new Uint8Array(MAX_RECORD_BYTES + 1)))).toBe(
      'NAME_RECORD_MALFORMED',
    )
    for (let cut = 0; cut < bytes.length; cut += 7) {
      expect(code(() => decodeRecord(bytes.subarray(0, cut)))).toBe('NAME_RECORD_MALFORMED')
    }
    expect(code(() => decodeRecord(Uint8Array.from([...bytes, 0])))).toBe('NAME_RECORD_MALFORMED')
    const v2 = Uint8Array.from(bytes)
    v2[0] = 2
    expect(code(() => decodeRecord(v2))).toBe('NAME_RECORD_MALFORMED')
    expect(code(() => decodeRecord('x' as unknown as Uint8Array))).toBe('NAME_RECORD_MALFORMED')
  })

  it('decodes any bytes to a record or a NAME_RECORD_MALFORMED, never anything else (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_RECORD_BYTES + 16 }), (bytes) => {
        const c = code(() => decodeRecord(bytes))
        expect([undefined, 'NAME_RECORD_MALFORMED']).toContain(c)
      }),
      { numRuns: 2000 },
    )
  })

  it('a mutated record never verifies (property)', () => {
    const bytes = encodeRecord(record())
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, xor) => {
          const m = Uint8Array.from(bytes)
          m[at] = (m[at] as number) ^ xor
          let c: string | undefined
          try {
            verifyRecord(decodeRecord(m))
          } catch (err) {
            expect(err).toBeInstanceOf(NameError)
            c = (err as NameError).code
          }
          expect(c).toBeDefined()
        },
      ),
      { numRuns: 500 },
    )
  })
})
