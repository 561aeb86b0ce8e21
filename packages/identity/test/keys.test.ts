import { inspect } from 'node:util'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { describe, expect, it } from 'vitest'
import {
  generateIdentity,
  IdentityError,
  identityFromSecret,
  isNodeId,
  legacyNodeId,
  nodeIdToPublicKey,
} from '../src/index.js'

// P2PD's derivation: secret 0x11×32 → compressed pk → first 25 hex of its SHA-256.
const VECTOR_PK = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa'
const VECTOR_LEGACY = '5b6b92b37b765963ab61d52a3'

describe('identity keys', () => {
  it('derives the node ID and the legacy id of the spec vector', () => {
    const id = identityFromSecret(new Uint8Array(32).fill(0x11))
    expect(id.nodeId).toBe(VECTOR_PK)
    expect(legacyNodeId(id.nodeId)).toBe(VECTOR_LEGACY)
    expect(Buffer.from(id.publicKey).toString('hex')).toBe(VECTOR_PK)
  })

  it('generates distinct valid identities', () => {
    const a = generateIdentity()
    const b = generateIdentity()
    expect(a.nodeId).not.toBe(b.nodeId)
    expect(isNodeId(a.nodeId)).toBe(true)
    expect(a.nodeId).toMatch(/^0[23][0-9a-f]{64}$/)
    expect(identityFromSecret(a.exportSecretKey()).nodeId).toBe(a.nodeId)
  })

  it('copies the secret in and out', () => {
    const secret = new Uint8Array(32).fill(0x11)
    const id = identityFromSecret(secret)
    secret.fill(0)
    expect(id.nodeId).toBe(VECTOR_PK)
    const out = id.exportSecretKey()
    out.fill(0)
    expect(id.exportSecretKey()[0]).toBe(0x11)
    const pk = id.publicKey
    pk.fill(0)
    expect(id.publicKey[0]).toBe(3)
  })

  it('rejects invalid secret keys with a typed error', () => {
    const n = secp256k1.Point.CURVE().n
    const order = Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
    for (const bad of [new Uint8Array(32), new Uint8Array(31).fill(1), new Uint8Array(order)]) {
      expect(() => identityFromSecret(bad)).toThrow(IdentityError)
      try {
        identityFromSecret(bad)
      } catch (err) {
        expect((err as IdentityError).code).toBe('IDENTITY_INVALID_SECRET_KEY')
      }
    }
  })

  it('never prints the secret', () => {
    const id = identityFromSecret(new Uint8Array(32).fill(0x11))
    const secretHex = '11'.repeat(32)
    for (const text of [
      JSON.stringify(id),
      JSON.stringify({ nested: { id } }),
      inspect(id),
      inspect({ id }, { depth: 5, showHidden: true }),
      String(id),
      `${id}`,
    ]) {
      expect(text).not.toContain(secretHex)
      expect(text).toContain(VECTOR_PK)
    }
    expect(JSON.parse(JSON.stringify(id))).toEqual({ nodeId: VECTOR_PK, secretKey: '[redacted]' })
  })

  it('recognises node IDs strictly', () => {
    expect(isNodeId(VECTOR_PK)).toBe(true)
    expect(isNodeId(VECTOR_PK.toUpperCase())).toBe(false)
    expect(isNodeId(VECTOR_LEGACY)).toBe(false)
    expect(isNodeId(`04${VECTOR_PK.slice(2)}`)).toBe(false)
    expect(isNodeId(VECTOR_PK.slice(0, 64))).toBe(false)
    expect(isNodeId(42)).toBe(false)
    // An x with no point on the curve: found by search, checked against noble.
    let x = 1n
    for (; ; x++) {
      const hex = `02${x.toString(16).padStart(64, '0')}`
      try {
        secp256k1.Point.fromBytes(Buffer.from(hex, 'hex'))
      } catch {
        expect(isNodeId(hex)).toBe(false)
        break
      }
    }
    expect(() => nodeIdToPublicKey(VECTOR_LEGACY)).toThrow(IdentityError)
    expect(() => legacyNodeId('nope')).toThrow(IdentityError)
  })
})
