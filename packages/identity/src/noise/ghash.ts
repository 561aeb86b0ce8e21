/**
 * GHASH (the GF(2^128) hash of AES-GCM, NIST SP 800-38D) in constant time, with 32-bit integer
 * multiplies: no tables, no secret-dependent branches or memory accesses.
 *
 * A carry-less 32×32 multiply is done with `Math.imul` on operands masked into four classes of
 * bits 4 apart ("holes", as in BearSSL's `ghash_ctmul32`): a column sums at most 8 one-bit
 * products, so carries stay inside the holes and are masked away. That yields the low 32 bits of
 * the product; the high 32 come from the same multiply on bit-reversed operands. A 128×128
 * product is 9 such multiplies (two levels of Karatsuba), then reduced modulo
 * x^128 + x^7 + x^2 + x + 1 in GCM's bit-reflected order.
 * @internal
 */

const imul = Math.imul

/** Low 32 bits of the carry-less product of `x` and `y`. */
function bmul32(x: number, y: number): number {
  const x0 = x & 0x11111111
  const x1 = x & 0x22222222
  const x2 = x & 0x44444444
  const x3 = x & 0x88888888
  const y0 = y & 0x11111111
  const y1 = y & 0x22222222
  const y2 = y & 0x44444444
  const y3 = y & 0x88888888
  const z0 = imul(x0, y0) ^ imul(x1, y3) ^ imul(x2, y2) ^ imul(x3, y1)
  const z1 = imul(x0, y1) ^ imul(x1, y0) ^ imul(x2, y3) ^ imul(x3, y2)
  const z2 = imul(x0, y2) ^ imul(x1, y1) ^ imul(x2, y0) ^ imul(x3, y3)
  const z3 = imul(x0, y3) ^ imul(x1, y2) ^ imul(x2, y1) ^ imul(x3, y0)
  return (z0 & 0x11111111) | (z1 & 0x22222222) | (z2 & 0x44444444) | (z3 & 0x88888888)
}

/** `x` with its 32 bits in reverse order. */
function rev32(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1)
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2)
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4)
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8)
  return (x >>> 16) | (x << 16)
}

/**
 * The hash key H (16 bytes, `E_K(0^128)`) prepared for {@link ghashMultiply}: the nine Karatsuba
 * operands of H, then their bit reversals.
 */
export function ghashKey(h: Uint8Array): Int32Array {
  const w0 = readWord(h, 0)
  const w1 = readWord(h, 4)
  const w2 = readWord(h, 8)
  const w3 = readWord(h, 12)
  const ops = [w3, w2, w3 ^ w2, w1, w0, w1 ^ w0, w3 ^ w1, w2 ^ w0, w3 ^ w1 ^ w2 ^ w0]
  const key = new Int32Array(18)
  for (let i = 0; i < 9; i++) {
    key[i] = ops[i] as number
    key[i + 9] = rev32(ops[i] as number)
  }
  return key
}

/** The big-endian 32-bit word at `offset` of `bytes`. */
export function readWord(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) << 24) |
    ((bytes[offset + 1] as number) << 16) |
    ((bytes[offset + 2] as number) << 8) |
    (bytes[offset + 3] as number)
  )
}

/**
 * `y ← y · H` in GF(2^128), GCM bit order. `y` holds the 128-bit block as four big-endian words,
 * most significant first; `key` comes from {@link ghashKey}.
 */
export function ghashMultiply(y: Int32Array, key: Int32Array): void {
  const a0 = y[3] as number // least significant word
  const a1 = y[2] as number
  const a2 = y[1] as number
  const a3 = y[0] as number
  const r0 = rev32(a0)
  const r1 = rev32(a1)
  const r2 = rev32(a2)
  const r3 = rev32(a3)
  const a6 = a0 ^ a2
  const a7 = a1 ^ a3
  const r6 = r0 ^ r2
  const r7 = r1 ^ r3
  // Nine 32×32 products, low (l) and high (h) words. Reversal is linear, so the reversed
  // Karatsuba operands are sums of reversed words.
  const l0 = bmul32(a0, key[0] as number)
  const h0 = rev32(bmul32(r0, key[9] as number)) >>> 1
  const l1 = bmul32(a1, key[1] as number)
  const h1 = rev32(bmul32(r1, key[10] as number)) >>> 1
  const l2 = bmul32(a0 ^ a1, key[2] as number)
  const h2 = rev32(bmul32(r0 ^ r1, key[11] as number)) >>> 1
  const l3 = bmul32(a2, key[3] as number)
  const h3 = rev32(bmul32(r2, key[12] as number)) >>> 1
  const l4 = bmul32(a3, key[4] as number)
  const h4 = rev32(bmul32(r3, key[13] as number)) >>> 1
  const l5 = bmul32(a2 ^ a3, key[5] as number)
  const h5 = rev32(bmul32(r2 ^ r3, key[14] as number)) >>> 1
  const l6 = bmul32(a6, key[6] as number)
  const h6 = rev32(bmul32(r6, key[15] as number)) >>> 1
  const l7 = bmul32(a7, key[7] as number)
  const h7 = rev32(bmul32(r7, key[16] as number)) >>> 1
  const l8 = bmul32(a6 ^ a7, key[8] as number)
  const h8 = rev32(bmul32(r6 ^ r7, key[17] as number)) >>> 1
  // Three 64×64 products (four words each, least significant first).
  const p1 = h0 ^ l2 ^ l0 ^ l1
  const p2 = l1 ^ h2 ^ h0 ^ h1
  const q1 = h3 ^ l5 ^ l3 ^ l4
  const q2 = l4 ^ h5 ^ h3 ^ h4
  const m0 = l6 ^ l0 ^ l3
  const m1 = h6 ^ l8 ^ l6 ^ l7 ^ p1 ^ q1
  const m2 = l7 ^ h8 ^ h6 ^ h7 ^ p2 ^ q2
  const m3 = h7 ^ h1 ^ h4
  // The 256-bit product, shifted left by one (bit-reflected operands).
  let z0 = l0
  let z1 = p1
  let z2 = p2 ^ m0
  let z3 = h1 ^ m1
  let z4 = l3 ^ m2
  let z5 = q1 ^ m3
  let z6 = q2
  let z7 = h4
  z7 = (z7 << 1) | (z6 >>> 31)
  z6 = (z6 << 1) | (z5 >>> 31)
  z5 = (z5 << 1) | (z4 >>> 31)
  z4 = (z4 << 1) | (z3 >>> 31)
  z3 = (z3 << 1) | (z2 >>> 31)
  z2 = (z2 << 1) | (z1 >>> 31)
  z1 = (z1 << 1) | (z0 >>> 31)
  z0 <<= 1
  // Reduce: fold the low half (z3..z0) onto the high half times x^7 + x^2 + x + 1, which in
  // reflected order is v ^ v>>1 ^ v>>2 ^ v>>7; the bits shifted out of z0 are folded once more.
  const e = (z0 << 31) ^ (z0 << 30) ^ (z0 << 25)
  y[0] = z7 ^ z3 ^ (z3 >>> 1) ^ (z3 >>> 2) ^ (z3 >>> 7) ^ e ^ (e >>> 1) ^ (e >>> 2) ^ (e >>> 7)
  y[1] =
    z6 ^
    z2 ^
    (z2 >>> 1) ^
    (z2 >>> 2) ^
    (z2 >>> 7) ^
    (z3 << 31) ^
    (z3 << 30) ^
    (z3 << 25) ^
    (e << 31) ^
    (e << 30) ^
    (e << 25)
  y[2] = z5 ^ z1 ^ (z1 >>> 1) ^ (z1 >>> 2) ^ (z1 >>> 7) ^ (z2 << 31) ^ (z2 << 30) ^ (z2 << 25)
  y[3] = z4 ^ z0 ^ (z0 >>> 1) ^ (z0 >>> 2) ^ (z0 >>> 7) ^ (z1 << 31) ^ (z1 << 30) ^ (z1 << 25)
}
