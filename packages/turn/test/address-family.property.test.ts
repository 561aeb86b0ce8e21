// The server's reading of REQUESTED-ADDRESS-FAMILY and its /64 source keys under arbitrary
// input: an answer (a family and its relay IP, or 400 / 440), never a throw.
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  newTransactionId,
  StunClass,
  StunMethod,
} from '@p2pd/stun'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allocationFamily, sourceKey } from '../src/server/address-family.js'

const RELAYS = [{ 4: '192.0.2.1' }, { 6: '2001:db8::1' }, { 4: '192.0.2.1', 6: '2001:db8::1' }]

describe('REQUESTED-ADDRESS-FAMILY on the server', () => {
  it('any value: the family it names when there is a relay of it, else 400 or 440', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 12 }),
        fc.constantFrom(...RELAYS),
        fc.boolean(),
        (value, relays, present) => {
          const req = decodeMessage(
            encodeMessage(
              createMessage({
                method: StunMethod.Allocate,
                cls: StunClass.Request,
                transactionId: newTransactionId(),
                attributes: [
                  attr.uint32(AttrType.RequestedTransport, 17 << 24),
                  ...(present ? [attr.raw(AttrType.RequestedAddressFamily, value)] : []),
                ],
              }),
            ),
          )
          const got = allocationFamily(req, relays)
          const wanted = !present ? 4 : value[0] === 1 ? 4 : value[0] === 2 ? 6 : undefined
          if (present && value.length !== 4) expect(got).toEqual({ error: 400 })
          else if (wanted === undefined) expect(got).toEqual({ error: 440 })
          else {
            const host = (relays as Partial<Record<4 | 6, string>>)[wanted]
            expect(got).toEqual(host ? { family: wanted, host } : { error: 440 })
          }
        },
      ),
    )
  })
})

describe('source keys', () => {
  it('IPv6 addresses of one /64 share a key, of different /64s do not', () => {
    const group = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 })
    const text = (g: number[]) => g.map((x) => x.toString(16)).join(':')
    fc.assert(
      fc.property(group, group, group, (net, h1, h2) => {
        // Outside ::ffff:0:0/96, where IPv4-mapped forms are keyed by their IPv4 address.
        const prefix = [0x2001, ...net.slice(1)]
        const a = sourceKey(`${text(prefix)}:${text(h1)}`)
        expect(sourceKey(`${text(prefix)}:${text(h2)}`)).toBe(a)
        const other = [0x2001, ...net.slice(1, 3), (net[3]! + 1) & 0xffff]
        expect(sourceKey(`${text(other)}:${text(h1)}`)).not.toBe(a)
      }),
    )
  })
})
