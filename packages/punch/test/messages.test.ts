import { isP2pdError } from '@p2pd/interface'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PunchError, parseAnswer, parseOffer, parseReady } from '../src/index.js'

const id = 'ab'.repeat(16)
const nat = { type: 5, delta: { type: 2, value: 0 } }
const offer = {
  v: 1,
  id,
  address: 'p2pd-address-text',
  mode: 'remote',
  mappings: [{ host: '198.18.0.30', port: 40000 }],
  candidatePorts: [50001, 50002],
  nat,
  uncertaintyMs: 12.5,
  sentAt: 1_700_000_000_000,
  meetAt: 1_700_000_003_000,
}
const answer = { ...offer, heldMs: 80 } as Record<string, unknown>
delete answer.address
delete answer.mode

const expectBad = (f: () => unknown) => {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(PunchError)
    expect((err as PunchError).code).toBe('PUNCH_BAD_MESSAGE')
    return
  }
  throw new Error('accepted a bad message')
}

describe('punch messages', () => {
  it('parses valid offer, answer and every kind of ready', () => {
    expect(parseOffer(offer)).toEqual(offer)
    expect(parseAnswer(answer)).toMatchObject({ heldMs: 80, mappings: offer.mappings })
    expect(
      parseReady({
        v: 1,
        kind: 'go',
        id,
        meetAt: 1_700_000_000_000,
        acceptor: 'none',
        windowMs: 3000,
        oneWayMs: 25,
      }),
    ).toMatchObject({ kind: 'go', acceptor: 'none' })
    expect(parseReady({ v: 1, kind: 'ack', id })).toEqual({ v: 1, kind: 'ack', id })
    expect(parseReady({ v: 1, kind: 'abort', id, reason: 'no' })).toMatchObject({ reason: 'no' })
  })

  it('refuses bad fields with PUNCH_BAD_MESSAGE', () => {
    expectBad(() => parseOffer(null))
    expectBad(() => parseOffer([]))
    expectBad(() => parseOffer({ ...offer, v: 2 }))
    expectBad(() => parseOffer({ ...offer, id: 'xyz' }))
    expectBad(() => parseOffer({ ...offer, address: 7 }))
    expectBad(() => parseOffer({ ...offer, address: 'x'.repeat(5000) }))
    expectBad(() => parseOffer({ ...offer, mode: 'mars' }))
    expectBad(() => parseOffer({ ...offer, mappings: [] }))
    expectBad(() => parseOffer({ ...offer, mappings: Array(17).fill(offer.mappings[0]) }))
    expectBad(() => parseOffer({ ...offer, mappings: [{ host: 'example.com', port: 1 }] }))
    expectBad(() => parseOffer({ ...offer, mappings: [{ host: '1.2.3.4', port: 70000 }] }))
    expectBad(() => parseOffer({ ...offer, candidatePorts: Array(65).fill(1) }))
    expectBad(() => parseOffer({ ...offer, candidatePorts: [0] }))
    expectBad(() => parseOffer({ ...offer, nat: { type: 9, delta: { type: 1, value: 0 } } }))
    expectBad(() => parseOffer({ ...offer, uncertaintyMs: -1 }))
    expectBad(() => parseOffer({ ...offer, uncertaintyMs: Number.NaN }))
    expectBad(() => parseOffer({ ...offer, sentAt: 1_700_000_000 })) // seconds, not ms
    expectBad(() => parseOffer({ ...offer, sentAt: 1_700_000_000_000.5 }))
    expectBad(() => parseAnswer({ ...answer, heldMs: 1e9 }))
    // Answer-and-go: the offer's `go` flag and the answer's plan, strictly typed when present.
    const plan = { meetAt: 1_700_000_000_500, acceptor: 'none', windowMs: 3000, oneWayMs: 40 }
    expect(parseOffer({ ...offer, go: true }).go).toBe(true)
    expect(parseOffer(offer).go).toBeUndefined()
    expectBad(() => parseOffer({ ...offer, go: 'yes' }))
    // Dial first: the proposed ports, 1–16 valid ports when present.
    expect(parseOffer({ ...offer, dialing: [40000, 40001] }).dialing).toEqual([40000, 40001])
    expect(parseOffer(offer).dialing).toBeUndefined()
    for (const dialing of [[], [0], [70000], [1.5], 'x', Array(17).fill(40000)])
      expectBad(() => parseOffer({ ...offer, dialing }))
    expect(parseAnswer({ ...answer, plan }).plan).toEqual(plan)
    expectBad(() => parseAnswer({ ...answer, plan: { ...plan, acceptor: 'both' } }))
    expectBad(() => parseAnswer({ ...answer, plan: { ...plan, windowMs: 0 } }))
    expectBad(() => parseAnswer({ ...answer, plan: { ...plan, meetAt: 5 } }))
    expectBad(() => parseAnswer({ ...answer, plan: [] }))
    expectBad(() =>
      parseReady({
        v: 1,
        kind: 'go',
        id,
        meetAt: 1_700_000_000_000,
        acceptor: 'x',
        windowMs: 1,
        oneWayMs: 1,
      }),
    )
    expectBad(() =>
      parseReady({
        v: 1,
        kind: 'go',
        id,
        meetAt: 1_700_000_000_000,
        acceptor: 'none',
        windowMs: 0,
        oneWayMs: 1,
      }),
    )
    expectBad(() => parseReady({ v: 1, kind: 'hello', id }))
    expectBad(() => parseReady({ v: 1, kind: 'abort', id, reason: 'x'.repeat(201) }))
  })

  it('never throws anything but PunchError, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (body) => {
        for (const parse of [parseOffer, parseAnswer, parseReady]) {
          try {
            parse(body)
          } catch (err) {
            expect(isP2pdError(err, 'PUNCH_BAD_MESSAGE')).toBe(true)
          }
        }
      }),
      { numRuns: 500 },
    )
    // Mutations of a valid offer: one field replaced by anything.
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(offer), 'dialing'),
        fc.anything(),
        (key, value) => {
          try {
            parseOffer({ ...offer, [key]: value })
          } catch (err) {
            expect(isP2pdError(err, 'PUNCH_BAD_MESSAGE')).toBe(true)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('carries the TCP filter and SYN policy in the NAT record, strictly typed', () => {
    const tcp = { filtering: 'APDF', synPolicy: 'rst' }
    expect(parseOffer({ ...offer, nat: { ...nat, tcp } }).nat.tcp).toEqual(tcp)
    expect(parseAnswer({ ...answer, nat: { ...nat, tcp } }).nat.tcp).toEqual(tcp)
    expect(parseOffer(offer).nat.tcp).toBeUndefined()
    for (const synPolicy of ['drop', 'rst', 'unknown']) {
      for (const filtering of ['EIF', 'ADF', 'APDF', 'unknown']) {
        const t = { filtering, synPolicy }
        expect(parseOffer({ ...offer, nat: { ...nat, tcp: t } }).nat.tcp).toEqual(t)
      }
    }
    expectBad(() => parseOffer({ ...offer, nat: { ...nat, tcp: { ...tcp, synPolicy: 'RST' } } }))
    expectBad(() => parseOffer({ ...offer, nat: { ...nat, tcp: { ...tcp, filtering: 'x' } } }))
    expectBad(() => parseOffer({ ...offer, nat: { ...nat, tcp: { filtering: 'EIF' } } }))
    expectBad(() => parseOffer({ ...offer, nat: { ...nat, tcp: 'rst' } }))
    expectBad(() => parseAnswer({ ...answer, nat: { ...nat, tcp: null } }))
    // Anything in either field, or as the whole record: a value of the sets or PUNCH_BAD_MESSAGE.
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), (filtering, synPolicy, whole) => {
        for (const t of [{ filtering, synPolicy }, { ...tcp, synPolicy }, whole]) {
          let got: unknown
          try {
            got = parseOffer({ ...offer, nat: { ...nat, tcp: t } }).nat.tcp
          } catch (err) {
            expect(isP2pdError(err, 'PUNCH_BAD_MESSAGE')).toBe(true)
            continue
          }
          if (t === undefined) expect(got).toBeUndefined()
          else {
            const { filtering: f, synPolicy: p } = t as { filtering: unknown; synPolicy: unknown }
            expect(got).toEqual({ filtering: f, synPolicy: p })
          }
        }
      }),
      { numRuns: 500 },
    )
  })
})
