import { isIPv4, isIPv6 } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isIPv4Mapped, parseIPv4, parseIPv6 } from '../src/ip.js'

// Differential tests of the hand-written parsers against Node's own (which, like ours, refuse
// leading zeros in dotted quads). Zone ids are handled outside these parsers.

const ipChars = fc.constantFrom(...'0123456789abcdefABCDEF:.x'.split(''))
const octet = fc.oneof(
  fc.nat(255).map(String),
  fc.nat(300).map((n) => `0${n}`), // leading zeros, and out of range
)
const quad = fc.tuple(octet, octet, octet, octet).map((q) => q.join('.'))
const hexGroup = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((g) => g.toString(16)),
  fc.string({ unit: fc.constantFrom(...'0fF'.split('')), minLength: 1, maxLength: 5 }),
)
const ipLike = fc.oneof(
  fc.string({ unit: ipChars, maxLength: 45 }),
  // Near-valid IPv6: 1–10 groups, some empty (so "::" and ":::" appear), maybe a trailing quad.
  fc
    .tuple(
      fc.array(fc.oneof(hexGroup, hexGroup, fc.constant('')), { minLength: 1, maxLength: 10 }),
      fc.option(quad),
    )
    .map(([groups, tail]) => (tail === null ? groups : [...groups, tail]).join(':')),
  // 6–9 groups around one "::" — valid only while "::" stands for at least one group.
  fc
    .tuple(fc.array(hexGroup, { minLength: 6, maxLength: 9 }), fc.nat(9))
    .map(([g, k]) => `${g.slice(0, k).join(':')}::${g.slice(k).join(':')}`),
  // Valid IPv6 in random compressed/expanded spellings, to exercise the accepting paths.
  fc
    .tuple(
      fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
        minLength: 8,
        maxLength: 8,
      }),
      fc.nat(8),
      fc.nat(8),
    )
    .map(([groups, a, b]) => {
      const text = groups.map((g) => g.toString(16))
      const [lo, hi] = a <= b ? [a, b] : [b, a]
      if (hi - lo < 1 || !text.slice(lo, hi).every((g) => g === '0')) return text.join(':')
      return `${text.slice(0, lo).join(':')}::${text.slice(hi).join(':')}`
    }),
  quad,
)

/** Node's compressed canonical form of an IPv6 address (via the WHATWG URL host parser). */
const compress = (ip: string) => new URL(`http://[${ip}]/`).hostname

describe('IP parsing', () => {
  it('agrees with node:net on what is an IPv4 address', () => {
    fc.assert(
      fc.property(ipLike, (s) => {
        expect(parseIPv4(s) !== undefined).toBe(isIPv4(s))
      }),
      { numRuns: 5000 },
    )
  })

  it('agrees with node:net on what is an IPv6 address, and explodes it correctly', () => {
    fc.assert(
      fc.property(ipLike, (s) => {
        const exploded = parseIPv6(s)
        expect(exploded !== undefined).toBe(isIPv6(s))
        if (exploded !== undefined) {
          expect(exploded).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){7}$/)
          expect(compress(exploded)).toBe(compress(s))
        }
      }),
      { numRuns: 5000 },
    )
  })

  it('keeps canonical IPv4 text as is and recognises IPv4-mapped IPv6', () => {
    expect(parseIPv4('192.168.0.1')).toBe('192.168.0.1')
    expect(parseIPv4('0.0.0.0')).toBe('0.0.0.0')
    expect(isIPv4Mapped(parseIPv6('::ffff:10.0.0.1') as string)).toBe(true)
    expect(isIPv4Mapped(parseIPv6('::1') as string)).toBe(false)
    expect(isIPv4Mapped(parseIPv6('64:ff9b::10.0.0.1') as string)).toBe(false)
  })
})
