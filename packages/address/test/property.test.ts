import type { AddressInterface, DeltaType, NatType, PeerAddress } from '@p2pd/interface'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AddressError, decodePeerAddress, encodePeerAddress } from '../src/index.js'

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.'.split('')
const token = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength })
const hex = (length: number) =>
  fc.string({
    unit: fc.constantFrom(...'0123456789abcdef'.split('')),
    minLength: length,
    maxLength: length,
  })

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((q) => q.join('.'))
const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }))
const ipv6 = fc
  .array(group, { minLength: 8, maxLength: 8 })
  .map((gs) => gs.map((g) => g.toString(16).padStart(4, '0')).join(':'))
  .filter((ip) => !ip.startsWith('0000:0000:0000:0000:0000:ffff:')) // IPv4-mapped: refused

const nat = fc.record({
  type: fc.integer({ min: 1, max: 7 }).map((n) => n as NatType),
  delta: fc.record({
    type: fc.integer({ min: 1, max: 6 }).map((n) => n as DeltaType),
    value: fc.integer({ min: -65535, max: 65535 }),
  }),
})

const iface = (ip: fc.Arbitrary<string>): fc.Arbitrary<AddressInterface> =>
  fc.record({
    netifaceIndex: fc.oneof(fc.nat(8), fc.nat(65535)),
    ifIndex: fc.oneof(fc.nat(8), fc.nat(65535)),
    ext: ip,
    nic: ip,
    port: fc.integer({ min: 1, max: 65535 }),
    nat,
  })

const family = (ip: fc.Arbitrary<string>) =>
  fc.uniqueArray(iface(ip), { maxLength: 3, selector: (i) => i.ifIndex })

const nodeId = fc.oneof(
  fc
    .tuple(fc.constantFrom('02', '03'), hex(64))
    .map(([p, h]) => ({ nodeId: p + h, legacy: false })),
  token(64).map((id) => ({ nodeId: id, legacy: true })),
)

/** Any valid peer address model. */
const model: fc.Arbitrary<PeerAddress> = fc
  .record({
    signal: fc.uniqueArray(fc.nat(255), { maxLength: 8 }),
    ip4: family(ipv4),
    ip6: family(ipv6),
    id: nodeId,
    machineId: token(128),
  })
  .map(({ id, ...rest }) => ({ ...rest, ...id }))

/** The only acceptable outcomes: an AddressError, or an address that re-encodes and round-trips. */
function decodesOrRefuses(input: unknown): void {
  let addr: PeerAddress
  try {
    addr = decodePeerAddress(input as string)
  } catch (err) {
    expect(err).toBeInstanceOf(AddressError)
    return
  }
  const text = encodePeerAddress(addr)
  expect(decodePeerAddress(text)).toEqual(addr)
}

const GRAMMAR = '0123456789[],|-~:.%abcdefNonex_ '.split('')
const someChar = fc.oneof(
  fc.constantFrom(...GRAMMAR),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
)

type Mutation =
  | { kind: 'insert' | 'replace'; at: number; ch: string }
  | { kind: 'delete' | 'truncate'; at: number }
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('insert' as const, 'replace' as const),
    at: fc.nat(),
    ch: someChar,
  }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'truncate' as const), at: fc.nat() }),
)

function mutate(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : m.at % (text.length + 1)
  switch (m.kind) {
    case 'insert':
      return text.slice(0, at) + m.ch + text.slice(at)
    case 'replace':
      return text.slice(0, at) + m.ch + text.slice(at + 1)
    case 'delete':
      return text.slice(0, at) + text.slice(at + 1)
    case 'truncate':
      return text.slice(0, at)
  }
}

describe('properties', () => {
  it('random valid models round-trip: decode(encode(m)) equals m, encode(decode(s)) === s', () => {
    fc.assert(
      fc.property(model, (m) => {
        const text = encodePeerAddress(m)
        const back = decodePeerAddress(text)
        expect(back).toEqual(m)
        expect(encodePeerAddress(back)).toBe(text)
      }),
      { numRuns: 2000 },
    )
  })

  it('random strings give an AddressError or a valid address, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: fc.constantFrom(...GRAMMAR), maxLength: 300 }),
          fc.string({ minLength: 1000, maxLength: 1100 }),
        ),
        decodesOrRefuses,
      ),
      { numRuns: 3000 },
    )
  })

  it('mutated valid addresses give an AddressError or a valid address, nothing else', () => {
    fc.assert(
      fc.property(model, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, ms) => {
        decodesOrRefuses(ms.reduce(mutate, encodePeerAddress(m)))
      }),
      { numRuns: 5000 },
    )
  })

  it('non-string inputs and arbitrary models give an AddressError, never another exception', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        decodesOrRefuses(value)
        expect(() => encodePeerAddress(value as PeerAddress)).toThrow(AddressError)
      }),
      { numRuns: 1000 },
    )
  })

  it('valid models with one field replaced by anything give an AddressError or a round-trip', () => {
    const keys = ['signal', 'ip4', 'ip6', 'nodeId', 'legacy', 'machineId'] as const
    fc.assert(
      fc.property(model, fc.constantFrom(...keys), fc.anything(), (m, key, value) => {
        let text: string
        try {
          text = encodePeerAddress({ ...m, [key]: value })
        } catch (err) {
          expect(err).toBeInstanceOf(AddressError)
          return
        }
        decodesOrRefuses(text)
      }),
      { numRuns: 2000 },
    )
  })
})
