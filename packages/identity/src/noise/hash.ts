import { createHash, createHmac } from 'node:crypto'

/** Noise `HASHLEN` for SHA-256. */
export const HASHLEN = 32

/** Noise `HASH()`: SHA-256. */
export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return h.digest()
}

/**
 * Noise `HKDF(chaining_key, input_key_material, num_outputs)` (spec §4.3), which is RFC 5869
 * with the chaining key as salt and empty info, returning two or three 32-byte outputs.
 */
export function hkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  outputs: 2,
): [Buffer, Buffer]
export function hkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  outputs: 3,
): [Buffer, Buffer, Buffer]
export function hkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  outputs: 2 | 3,
): Buffer[] {
  const tempKey = hmac(chainingKey, inputKeyMaterial)
  const output1 = hmac(tempKey, Uint8Array.of(1))
  const output2 = hmac(tempKey, output1, Uint8Array.of(2))
  if (outputs === 2) return [output1, output2]
  return [output1, output2, hmac(tempKey, output2, Uint8Array.of(3))]
}
