// RFC 5769 sample messages, typed from the RFC's hex dumps, checked byte for byte.
import { describe, expect, it } from 'vitest'
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  findAttribute,
  longTermKey,
  readAttributes,
  StunClass,
  StunMethod,
  shortTermKey,
  verifyIntegrity,
} from '../src/index.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const password = 'VOkJxbRl1RmTxUk/WvJxBt'
const txid = hex('b7e7a701 bc34d686 fa87dfae')

// §2.1 Sample Request
const request = hex(`
  00010058 2112a442 b7e7a701 bc34d686 fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`)

// §2.2 Sample IPv4 Response
const ipv4Response = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`)

// §2.3 Sample IPv6 Response
const ipv6Response = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`)

// §2.4 Sample Request with Long-Term Authentication
const longTermRequest = hex(`
  00010060 2112a442 78ad3433 c6ad72c0 29da412e
  00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000
  0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341
  0014000b 6578616d 706c652e 6f726700
  00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666`)

describe('RFC 5769 test vectors', () => {
  it('2.1 sample request: decodes, verifies, and re-encodes byte for byte', () => {
    const msg = decodeMessage(request)
    expect(msg.method).toBe(StunMethod.Binding)
    expect(msg.cls).toBe(StunClass.Request)
    expect(msg.transactionId.equals(txid)).toBe(true)
    const a = readAttributes(msg)
    expect(a.software).toBe('STUN test client')
    expect(a.username).toBe('evtj:h6vY')
    // PRIORITY and ICE-CONTROLLED are not ours: preserved as they are.
    expect(a.others.map((x) => x.type)).toEqual([
      AttrType.Priority,
      AttrType.IceControlled,
      AttrType.MessageIntegrity,
      AttrType.Fingerprint,
    ])
    expect(verifyIntegrity(msg, shortTermKey(password))).toBe(true)
    expect(verifyIntegrity(msg, shortTermKey('wrong'))).toBe(false)

    const rebuilt = encodeMessage(
      createMessage({
        method: StunMethod.Binding,
        cls: StunClass.Request,
        transactionId: txid,
        attributes: [
          attr.software('STUN test client'),
          attr.raw(AttrType.Priority, hex('6e0001ff')),
          attr.raw(AttrType.IceControlled, hex('932ff9b151263b36')),
          attr.username('evtj:h6vY'),
        ],
      }),
      { integrity: { key: shortTermKey(password) }, fingerprint: true, padByte: 0x20 },
    )
    expect(rebuilt.toString('hex')).toBe(request.toString('hex'))
  })

  it('2.2 sample IPv4 response: 192.0.2.1:32853, byte for byte', () => {
    const msg = decodeMessage(ipv4Response)
    expect(msg.cls).toBe(StunClass.SuccessResponse)
    const a = readAttributes(msg)
    expect(a.software).toBe('test vector')
    expect(a.xorMappedAddress).toEqual({ family: 4, host: '192.0.2.1', port: 32853 })
    expect(verifyIntegrity(msg, shortTermKey(password))).toBe(true)
    const rebuilt = encodeMessage(
      createMessage({
        method: StunMethod.Binding,
        cls: StunClass.SuccessResponse,
        transactionId: txid,
        attributes: [
          attr.software('test vector'),
          attr.xorMappedAddress({ host: '192.0.2.1', port: 32853 }, txid),
        ],
      }),
      { integrity: { key: shortTermKey(password) }, fingerprint: true, padByte: 0x20 },
    )
    expect(rebuilt.toString('hex')).toBe(ipv4Response.toString('hex'))
  })

  it('2.3 sample IPv6 response: 2001:db8:1234:5678:11:2233:4455:6677 port 32853', () => {
    const msg = decodeMessage(ipv6Response)
    const a = readAttributes(msg)
    expect(a.xorMappedAddress).toEqual({
      family: 6,
      host: '2001:db8:1234:5678:11:2233:4455:6677',
      port: 32853,
    })
    expect(verifyIntegrity(msg, shortTermKey(password))).toBe(true)
    const rebuilt = encodeMessage(
      createMessage({
        method: StunMethod.Binding,
        cls: StunClass.SuccessResponse,
        transactionId: txid,
        attributes: [
          attr.software('test vector'),
          attr.xorMappedAddress(
            { host: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
            txid,
          ),
        ],
      }),
      { integrity: { key: shortTermKey(password) }, fingerprint: true, padByte: 0x20 },
    )
    expect(rebuilt.toString('hex')).toBe(ipv6Response.toString('hex'))
  })

  it('2.4 long-term authentication: key = MD5(user:realm:pass), byte for byte', () => {
    const username = '\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9'
    // SASLprep of "The\u00ADM\u00AAtr\u2168" is "TheMatrIX"; this package takes prepared passwords.
    const key = longTermKey(username, 'example.org', 'TheMatrIX')
    const msg = decodeMessage(longTermRequest)
    const a = readAttributes(msg)
    expect(a.username).toBe(username)
    expect(a.nonce).toBe('f//499k954d6OL34oL9FSTvy64sA')
    expect(a.realm).toBe('example.org')
    expect(verifyIntegrity(msg, key)).toBe(true)
    expect(findAttribute(msg, AttrType.Fingerprint)).toBeUndefined()
    const rebuilt = encodeMessage(
      createMessage({
        method: StunMethod.Binding,
        cls: StunClass.Request,
        transactionId: hex('78ad3433 c6ad72c0 29da412e'),
        attributes: [
          attr.username(username),
          attr.nonce('f//499k954d6OL34oL9FSTvy64sA'),
          attr.realm('example.org'),
        ],
      }),
      { integrity: { key } },
    )
    expect(rebuilt.toString('hex')).toBe(longTermRequest.toString('hex'))
  })

  it('a flipped bit anywhere before FINGERPRINT breaks FINGERPRINT or integrity', () => {
    // (A flipped FINGERPRINT type makes it an unknown attribute after MESSAGE-INTEGRITY, which
    // RFC 8489 §14.5 says to ignore.)
    for (let i = 0; i < request.length - 8; i++) {
      const bad = Buffer.from(request)
      bad[i] = (bad[i] as number) ^ 0x01
      let ok: boolean
      try {
        ok = verifyIntegrity(decodeMessage(bad), shortTermKey(password))
      } catch (err) {
        expect((err as { code: string }).code).toMatch(/^STUN_/)
        ok = false
      }
      expect(ok, `byte ${i}`).toBe(false)
    }
  })

  it('MESSAGE-INTEGRITY-SHA256 round trip (and both together)', () => {
    const key = shortTermKey(password)
    for (const algorithm of ['sha256', 'both'] as const) {
      const bytes = encodeMessage(
        createMessage({
          method: StunMethod.Binding,
          cls: StunClass.Request,
          attributes: [attr.username('u')],
        }),
        { integrity: { key, algorithm }, fingerprint: true },
      )
      const msg = decodeMessage(bytes)
      expect(findAttribute(msg, AttrType.MessageIntegritySha256)).toBeDefined()
      expect(verifyIntegrity(msg, key)).toBe(true)
      expect(verifyIntegrity(msg, shortTermKey('x'))).toBe(false)
    }
  })
})
