import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { ipFrom16, ipTo16 } from '../src/ip16.js'
import {
  decodeNatPmpReply,
  encodeNatPmpExternalAddressRequest,
  encodeNatPmpMapRequest,
} from '../src/natpmp-codec.js'
import { decodePcpMapReply, encodePcpMapRequest } from '../src/pcp-codec.js'

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

/** Only a PortMapError may come out of a decoder, whatever the bytes. */
function onlyPortMapErrors(decode: (b: Uint8Array) => unknown) {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
      try {
        decode(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(PortMapError)
      }
    }),
    { numRuns: 3000 },
  )
}

describe('NAT-PMP codec (RFC 6886)', () => {
  it('encodes the two requests byte for byte', () => {
    expect(Buffer.from(encodeNatPmpExternalAddressRequest()).toString('hex')).toBe('0000')
    const map = encodeNatPmpMapRequest({
      protocol: 'tcp',
      internalPort: 4000,
      suggestedExternalPort: 4001,
      lifetimeSeconds: 7200,
    })
    expect(Buffer.from(map).toString('hex')).toBe('0002 0000 0fa0 0fa1 00001c20'.replace(/ /g, ''))
  })

  it('decodes an external-address reply and a TCP map reply', () => {
    expect(decodeNatPmpReply(hex('0080 0000 000003e8 cb007109'))).toEqual({
      op: 'external-address',
      resultCode: 0,
      epoch: 1000,
      externalAddress: '203.0.113.9',
    })
    expect(decodeNatPmpReply(hex('0082 0000 000003e8 0fa0 0fa1 00001c20'))).toEqual({
      op: 'map',
      resultCode: 0,
      epoch: 1000,
      protocol: 'tcp',
      internalPort: 4000,
      externalPort: 4001,
      lifetimeSeconds: 7200,
    })
  })

  it('reads an error reply cut to its header, refuses a short success', () => {
    expect(decodeNatPmpReply(hex('0082 0002 000003e8'))).toMatchObject({
      op: 'error',
      resultCode: 2,
      opcode: 130,
    })
    expect(() => decodeNatPmpReply(hex('0082 0000 000003e8'))).toThrow(/want 16/)
  })

  it('names a PCP answer as another version, and rejects requests and junk', () => {
    const v2 = new Uint8Array(60)
    v2[0] = 2
    v2[1] = 0x81
    expect(() => decodeNatPmpReply(v2)).toThrow(
      expect.objectContaining({ code: 'PORTMAP_UNSUPPORTED_VERSION' }),
    )
    expect(() => decodeNatPmpReply(hex('0002 0000 0fa0 0fa1 00001c20'))).toThrow(
      expect.objectContaining({ code: 'PORTMAP_MALFORMED' }),
    )
    expect(() => decodeNatPmpReply(new Uint8Array(0))).toThrow(PortMapError)
    // A stray with another version byte is dropped (malformed), not taken as an answer.
    expect(() => decodeNatPmpReply(Buffer.from('junk and more'))).toThrow(
      expect.objectContaining({ code: 'PORTMAP_MALFORMED' }),
    )
  })

  it('fuzz: any bytes decode or throw PortMapError', () => onlyPortMapErrors(decodeNatPmpReply))

  it('property: a map reply built from its fields decodes to them', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.nat(),
        fc.nat(),
        (protocol, ip, ep, life, epoch) => {
          const b = Buffer.alloc(16)
          b[1] = protocol === 'udp' ? 129 : 130
          b.writeUInt32BE(epoch >>> 0, 4)
          b.writeUInt16BE(ip, 8)
          b.writeUInt16BE(ep, 10)
          b.writeUInt32BE(life >>> 0, 12)
          expect(decodeNatPmpReply(b)).toEqual({
            op: 'map',
            resultCode: 0,
            epoch: epoch >>> 0,
            protocol,
            internalPort: ip,
            externalPort: ep,
            lifetimeSeconds: life >>> 0,
          })
        },
      ),
    )
  })
})

describe('PCP codec (RFC 6887)', () => {
  const nonce = hex('0102030405060708090a0b0c')

  it('encodes a MAP request in the RFC layout (60 bytes)', () => {
    const req = encodePcpMapRequest({
      nonce,
      protocol: 'tcp',
      internalPort: 4000,
      suggestedExternalPort: 4000,
      suggestedExternalAddress: '0.0.0.0',
      lifetimeSeconds: 7200,
      clientAddress: '10.1.0.2',
    })
    expect(Buffer.from(req).toString('hex')).toBe(
      '02010000 00001c20 00000000000000000000ffff0a010002'.replace(/ /g, '') +
        '0102030405060708090a0b0c 06000000 0fa0 0fa0 00000000000000000000ffff00000000'.replace(
          / /g,
          '',
        ),
    )
  })

  it('decodes a MAP reply, with options skipped by their padded length', () => {
    const reply = Buffer.alloc(68)
    reply[0] = 2
    reply[1] = 0x81
    reply.writeUInt32BE(3600, 4)
    reply.writeUInt32BE(77, 8)
    Buffer.from(nonce).copy(reply, 24)
    reply[36] = 6
    reply.writeUInt16BE(4000, 40)
    reply.writeUInt16BE(4002, 42)
    Buffer.from(ipTo16('198.18.1.1')).copy(reply, 44)
    reply[60] = 0x80 // an option with 3 bytes of data, padded to 4
    reply.writeUInt16BE(3, 62)
    expect(decodePcpMapReply(reply)).toMatchObject({
      resultCode: 0,
      lifetimeSeconds: 3600,
      epoch: 77,
      protocol: 'tcp',
      internalPort: 4000,
      externalPort: 4002,
      externalAddress: '198.18.1.1',
      options: [0x80],
    })
    reply.writeUInt16BE(5, 62) // 5 bytes pad to 8: past the end
    expect(() => decodePcpMapReply(reply)).toThrow(
      expect.objectContaining({ code: 'PORTMAP_MALFORMED' }),
    )
  })

  it('names a NAT-PMP answer as another version; refuses requests, short and odd sizes', () => {
    expect(() => decodePcpMapReply(hex('0081 0001 000003e8'))).toThrow(
      expect.objectContaining({ code: 'PORTMAP_UNSUPPORTED_VERSION' }),
    )
    const req = encodePcpMapRequest({
      nonce,
      protocol: 'udp',
      internalPort: 1,
      suggestedExternalPort: 0,
      suggestedExternalAddress: '::',
      lifetimeSeconds: 0,
      clientAddress: '::1',
    })
    expect(() => decodePcpMapReply(req)).toThrow(/0x1/)
    const odd = new Uint8Array(62)
    odd.set([2, 0x81])
    expect(() => decodePcpMapReply(odd)).toThrow(/multiple of 4/)
  })

  it('fuzz: any bytes decode or throw PortMapError', () => {
    onlyPortMapErrors(decodePcpMapReply)
    // Mostly-valid headers reach the option walker.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (tail) => {
        const b = new Uint8Array(60 + tail.length - (tail.length % 4))
        b.set(tail.subarray(0, b.length - 60), 60)
        b[0] = 2
        b[1] = 0x81
        try {
          decodePcpMapReply(b)
        } catch (err) {
          expect(err).toBeInstanceOf(PortMapError)
        }
      }),
    )
  })

  it('property: 16-byte addresses round-trip for IPv4 and IPv6', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(ipFrom16(ipTo16(ip))).toBe(ip)
      }),
    )
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(ipTo16(ipFrom16(b))).toEqual(b)
      }),
    )
    expect(() => ipTo16('not-an-ip')).toThrow(
      expect.objectContaining({ code: 'PORTMAP_BAD_ARGUMENT' }),
    )
  })
})
