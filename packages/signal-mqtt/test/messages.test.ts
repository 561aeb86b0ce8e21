import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  isAddressGet,
  isPunchOffer,
  isReverseRequest,
  MESSAGE_SCHEMAS,
  parseAddressGet,
  parseAddressReturn,
  parsePunchAnswer,
  parsePunchOffer,
  parsePunchReady,
  parseReverseRequest,
  parseTurnAnswer,
  parseTurnOffer,
  SignalMessageError,
  validateSignalMessage,
} from '../src/index.js'

const id = '0123456789abcdef0123456789abcdef'
const address = '0,1-[0,0,1.2.3.4,192.168.0.2,4000,3,2,0]-0-02aa-m1'
const ep = { host: '203.0.113.7', port: 40_000 }
const nat = { type: 5, delta: { type: 4, value: -2 }, range: [1024, 65_535] }

const valid: Record<string, unknown> = {
  'reverse/request': { token: id, address },
  'punch/offer': { id, address, mappings: [ep], nat, candidatePorts: [40_001], meetAt: 1.7e12 },
  'punch/answer': { id, mappings: [ep, ep], meetAt: 1.7e12 },
  'punch/ready': { id, kind: 'go' },
  'turn/offer': { id: 7, address, relayed: ep },
  'turn/answer': { id: 7, relayed: ep },
  'address/get': { id },
  'address/return': { id, address },
}

describe('message schemas', () => {
  it('accepts a valid body of every built-in type; parse results drop extra fields', () => {
    expect(Object.keys(MESSAGE_SCHEMAS).sort()).toEqual(Object.keys(valid).sort())
    for (const [type, body] of Object.entries(valid)) {
      expect(() => validateSignalMessage({ type, body })).not.toThrow()
    }
    expect(parseReverseRequest({ token: id, address, extra: 1 })).toEqual({ token: id, address })
    expect(parsePunchOffer(valid['punch/offer']).nat?.range).toEqual([1024, 65_535])
    expect(parsePunchReady({ id, kind: 'go', meetAt: 5 })).toEqual({ id, kind: 'go', meetAt: 5 })
    expect(() => parsePunchReady({ id, kind: 'later' })).toThrow(/kind/)
    expect(parseTurnAnswer({ id: 7, relayed: ep }).relayed).toEqual(ep)
    expect(parseTurnAnswer({ id: 7, error: 'no relay' }).error).toBe('no relay')
    expect(parseAddressGet({ id, address }).address).toBe(address)
    expect(parseAddressReturn(valid['address/return'])).toEqual({ id, address })
    expect(parseTurnOffer(valid['turn/offer']).id).toBe(7)
    expect(parsePunchAnswer(valid['punch/answer']).mappings).toHaveLength(2)
  })

  it('matches the reverse strategy of @p2pd/node: 32-hex token and address text', () => {
    expect(isReverseRequest({ token: id, address })).toBe(true)
    expect(isReverseRequest({ token: id.toUpperCase(), address })).toBe(false)
    expect(isReverseRequest({ token: id.slice(1), address })).toBe(false)
    expect(isReverseRequest({ token: id })).toBe(false)
    expect(isReverseRequest({ token: id, address: 'x'.repeat(2049) })).toBe(false)
  })

  it('refuses bad bodies with a typed error', () => {
    const bad: [string, unknown][] = [
      ['punch/offer', { ...(valid['punch/offer'] as object), mappings: [] }],
      ['punch/offer', { ...(valid['punch/offer'] as object), mappings: [{ host: 'h', port: 0 }] }],
      ['punch/offer', { ...(valid['punch/offer'] as object), meetAt: -1 }],
      ['punch/offer', { ...(valid['punch/offer'] as object), address: undefined }],
      ['punch/offer', { ...(valid['punch/offer'] as object), nat: { type: 9, delta: {} } }],
      ['punch/answer', { id, mappings: Array(65).fill(ep), meetAt: 1 }],
      ['turn/offer', { ...(valid['turn/offer'] as object), id: 2 ** 32 }],
      ['address/return', { id }],
      ['address/get', null],
      ['reverse/request', []],
    ]
    for (const [type, body] of bad) {
      expect(() => validateSignalMessage({ type, body }), type).toThrow(SignalMessageError)
    }
    expect(isPunchOffer(null)).toBe(false)
    expect(isAddressGet({ id: 5 })).toBe(false)
  })

  it('passes app/… types up to the cap and refuses unknown types', () => {
    expect(() => validateSignalMessage({ type: 'app/chat', body: { text: 'hi' } })).not.toThrow()
    const big = { type: 'app/blob', body: 'x'.repeat(9000) }
    expect(() => validateSignalMessage(big)).toThrow(/over 8192 bytes/)
    expect(() => validateSignalMessage(big, { maxAppBodyBytes: 10_000 })).not.toThrow()
    for (const type of [
      'test',
      'app/',
      'evil/thing',
      'reverse/other',
      '',
      'APP/x',
      'a'.repeat(70),
    ]) {
      let err: unknown
      try {
        validateSignalMessage({ type, body: {} })
      } catch (e) {
        err = e
      }
      expect((err as SignalMessageError)?.code, type).toBe('SIGNAL_MESSAGE_TYPE')
    }
    expect(() => validateSignalMessage({ type: 'app/x', body: undefined })).toThrow(
      SignalMessageError,
    )
  })

  it('never throws anything but SignalMessageError, whatever the input (property)', () => {
    const types = [...Object.keys(valid), 'app/x', 'nope/x']
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.jsonValue(), (type, body) => {
        try {
          validateSignalMessage({ type, body })
        } catch (err) {
          expect(err).toBeInstanceOf(SignalMessageError)
        }
      }),
      { numRuns: 2_000 },
    )
  })
})
