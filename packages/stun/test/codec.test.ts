import { describe, expect, it } from 'vitest'
import {
  AttrType,
  attr,
  bytesToIp,
  createMessage,
  decodeAddress,
  decodeErrorCode,
  decodeMessage,
  decodeMessageType,
  decodeXorAddress,
  encodeMessage,
  encodeMessageType,
  ipToBytes,
  isStunMessage,
  MAGIC_COOKIE,
  newTransactionId,
  normalizeIp,
  parseServer,
  readAttributes,
  StunClass,
  StunError,
  StunMethod,
} from '../src/index.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    expect(err).toBeInstanceOf(StunError)
    return (err as StunError).code
  }
}

describe('message type', () => {
  it('interleaves method and class bits (RFC 8489 §5)', () => {
    expect(encodeMessageType(StunMethod.Binding, StunClass.Request)).toBe(0x0001)
    expect(encodeMessageType(StunMethod.Binding, StunClass.SuccessResponse)).toBe(0x0101)
    expect(encodeMessageType(StunMethod.Binding, StunClass.ErrorResponse)).toBe(0x0111)
    expect(encodeMessageType(StunMethod.Allocate, StunClass.Request)).toBe(0x0003)
    expect(encodeMessageType(StunMethod.Data, StunClass.Indication)).toBe(0x0017)
    // Methods above 0xF need the shift P2PD's plain OR lacked.
    expect(encodeMessageType(0x0fff, StunClass.ErrorResponse)).toBe(0x3fff)
    for (let m = 0; m <= 0xfff; m += 7) {
      for (const cls of Object.values(StunClass)) {
        expect(decodeMessageType(encodeMessageType(m, cls))).toEqual({ method: m, cls })
      }
    }
  })
})

describe('transaction ids', () => {
  it('are 12 random bytes, different each time', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newTransactionId().toString('hex')))
    expect(ids.size).toBe(1000)
    expect(newTransactionId()).toHaveLength(12)
  })
})

describe('addresses', () => {
  it('IP text <-> bytes', () => {
    expect(bytesToIp(ipToBytes('::1'))).toBe('::1')
    expect(bytesToIp(ipToBytes('2001:DB8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1')
    expect(bytesToIp(ipToBytes('::ffff:1.2.3.4'))).toBe('::ffff:102:304')
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(normalizeIp('fe80::1%lo')).toBe('fe80::1')
    expect(codeOf(() => ipToBytes('example.com'))).toBe('STUN_BAD_INPUT')
  })

  it('XOR-MAPPED-ADDRESS always uses the magic cookie, even in a legacy message', () => {
    const txid = newTransactionId()
    const value = attr.xorMappedAddress({ host: '203.0.113.7', port: 40000 }, txid).value
    expect(decodeXorAddress(value, txid)).toEqual({ family: 4, host: '203.0.113.7', port: 40000 })
    const legacy = encodeMessage(
      createMessage({
        method: StunMethod.Binding,
        cls: StunClass.SuccessResponse,
        transactionId: txid,
        cookie: 0x31323334,
        attributes: [{ type: AttrType.XorMappedAddress, value }],
      }),
    )
    expect(codeOf(() => decodeMessage(legacy))).toBe('STUN_BAD_COOKIE')
    const msg = decodeMessage(legacy, { allowLegacy: true })
    expect(msg.legacy).toBe(true)
    expect(msg.cookie).toBe(0x31323334)
    expect(readAttributes(msg).xorMappedAddress?.host).toBe('203.0.113.7')
  })

  it('rejects malformed address values', () => {
    expect(codeOf(() => decodeAddress(Buffer.from([0, 1, 0, 80, 1, 2, 3])))).toBe(
      'STUN_BAD_ATTRIBUTE',
    )
    expect(codeOf(() => decodeAddress(Buffer.from([0, 3, 0, 80, 1, 2, 3, 4])))).toBe(
      'STUN_BAD_ATTRIBUTE',
    )
    expect(codeOf(() => attr.mappedAddress({ host: '1.2.3.4', port: 70000 }))).toBe(
      'STUN_BAD_INPUT',
    )
  })
})

describe('attributes', () => {
  it('round-trips every typed attribute', () => {
    const txid = newTransactionId()
    const msg = createMessage({
      method: StunMethod.Binding,
      cls: StunClass.ErrorResponse,
      transactionId: txid,
      attributes: [
        attr.mappedAddress({ host: '10.0.0.1', port: 1 }),
        attr.xorMappedAddress({ host: '2001:db8::5', port: 65535 }, txid),
        attr.otherAddress({ host: '127.0.0.2', port: 3479 }),
        attr.responseOrigin({ host: '127.0.0.1', port: 3478 }),
        attr.changedAddress({ host: '127.0.0.2', port: 3479 }),
        attr.sourceAddress({ host: '127.0.0.1', port: 3478 }),
        attr.changeRequest({ changeIp: true, changePort: false }),
        attr.responsePort(5000),
        attr.padding(13),
        attr.errorCode(420, 'Unknown Attribute'),
        attr.unknownAttributes([0x7777, 0x0042]),
        attr.software('p2pd ✓'),
        attr.username('alice'),
        attr.realm('p2pd.test'),
        attr.nonce('n0nce'),
        attr.raw(0x7f01, Buffer.from('kept')),
      ],
    })
    const decoded = decodeMessage(encodeMessage(msg, { fingerprint: true }))
    const a = readAttributes(decoded)
    expect(a.mappedAddress).toEqual({ family: 4, host: '10.0.0.1', port: 1 })
    expect(a.xorMappedAddress).toEqual({ family: 6, host: '2001:db8::5', port: 65535 })
    expect(a.otherAddress?.port).toBe(3479)
    expect(a.responseOrigin?.host).toBe('127.0.0.1')
    expect(a.changedAddress?.host).toBe('127.0.0.2')
    expect(a.sourceAddress?.port).toBe(3478)
    expect(a.changeRequest).toEqual({ changeIp: true, changePort: false })
    expect(a.responsePort).toBe(5000)
    expect(a.padding).toBe(13)
    expect(a.errorCode).toEqual({ code: 420, reason: 'Unknown Attribute' })
    expect(a.unknownAttributes).toEqual([0x7777, 0x0042])
    expect(a.software).toBe('p2pd ✓')
    expect(a.username).toBe('alice')
    expect(a.realm).toBe('p2pd.test')
    expect(a.nonce).toBe('n0nce')
    expect(a.others.map((x) => x.type)).toEqual([0x7f01, AttrType.Fingerprint])
    expect(Buffer.from(a.others[0]?.value ?? []).toString()).toBe('kept')
  })

  it('bounds texts and error codes', () => {
    expect(codeOf(() => attr.software('x'.repeat(764)))).toBe('STUN_BAD_INPUT')
    expect(codeOf(() => attr.username('x'.repeat(513)))).toBe('STUN_BAD_INPUT')
    expect(codeOf(() => attr.errorCode(200, 'no'))).toBe('STUN_BAD_INPUT')
    expect(codeOf(() => decodeErrorCode(Buffer.from([0, 0, 2, 0])))).toBe('STUN_BAD_ATTRIBUTE')
    const badUtf8 = encodeMessage(
      createMessage({
        method: 1,
        cls: StunClass.Request,
        attributes: [attr.raw(AttrType.Software, Buffer.from([0xff, 0xfe]))],
      }),
    )
    expect(codeOf(() => readAttributes(decodeMessage(badUtf8)))).toBe('STUN_BAD_ATTRIBUTE')
  })
})

describe('decodeMessage rejects bad input with typed errors', () => {
  const good = encodeMessage(
    createMessage({
      method: 1,
      cls: StunClass.Request,
      attributes: [attr.software('abc')],
    }),
    { fingerprint: true },
  )

  it('header problems', () => {
    expect(isStunMessage(good)).toBe(true)
    expect(codeOf(() => decodeMessage(good.subarray(0, 19)))).toBe('STUN_TRUNCATED')
    expect(codeOf(() => decodeMessage(good.subarray(0, good.length - 4)))).toBe('STUN_TRUNCATED')
    expect(codeOf(() => decodeMessage(Buffer.concat([good, Buffer.alloc(4)])))).toBe(
      'STUN_BAD_LENGTH',
    )
    const notStun = Buffer.from(good)
    notStun[0] = 0x80
    expect(codeOf(() => decodeMessage(notStun))).toBe('STUN_NOT_STUN')
    const oddLength = Buffer.from(good)
    oddLength.writeUInt16BE(good.length - 20 - 2, 2)
    expect(codeOf(() => decodeMessage(oddLength))).toBe('STUN_BAD_LENGTH')
    const cookie = Buffer.from(good)
    cookie.writeUInt32BE(MAGIC_COOKIE ^ 1, 4)
    expect(codeOf(() => decodeMessage(cookie))).toBe('STUN_BAD_COOKIE')
  })

  it('attribute problems', () => {
    const overrun = Buffer.from(good)
    overrun.writeUInt16BE(200, 22) // SOFTWARE claims 200 bytes
    expect(codeOf(() => decodeMessage(overrun))).toBe('STUN_BAD_ATTRIBUTE')
    const fp = Buffer.from(good)
    fp[fp.length - 1] = (fp[fp.length - 1] as number) ^ 0xff
    expect(codeOf(() => decodeMessage(fp))).toBe('STUN_BAD_FINGERPRINT')
    expect(decodeMessage(fp, { checkFingerprint: false }).attributes).toHaveLength(2)
    // FINGERPRINT followed by anything.
    const after = encodeMessage(
      createMessage({
        method: 1,
        cls: StunClass.Request,
        attributes: [attr.raw(AttrType.Fingerprint, Buffer.alloc(4)), attr.software('x')],
      }),
    )
    expect(codeOf(() => decodeMessage(after))).toBe('STUN_BAD_ATTRIBUTE')
    const many = encodeMessage(
      createMessage({
        method: 1,
        cls: StunClass.Request,
        attributes: Array.from({ length: 200 }, () => attr.raw(0x8fff, Buffer.alloc(0))),
      }),
    )
    expect(codeOf(() => decodeMessage(many))).toBe('STUN_TOO_MANY_ATTRIBUTES')
    expect(decodeMessage(many, { maxAttributes: 300 }).attributes).toHaveLength(200)
  })

  it('drops attributes after MESSAGE-INTEGRITY except -SHA256 and FINGERPRINT', () => {
    const key = Buffer.from('k')
    const signed = encodeMessage(
      createMessage({ method: 1, cls: StunClass.Request, attributes: [attr.username('u')] }),
      { integrity: { key } },
    )
    // Append an attribute after MESSAGE-INTEGRITY by hand.
    const tail = Buffer.from([0x80, 0x22, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64])
    const bytes = Buffer.concat([signed, tail])
    bytes.writeUInt16BE(bytes.length - 20, 2)
    const msg = decodeMessage(bytes)
    expect(msg.attributes.map((a) => a.type)).toEqual([
      AttrType.Username,
      AttrType.MessageIntegrity,
    ])
  })

  it('encoder bounds', () => {
    const big = createMessage({
      method: 1,
      cls: StunClass.Request,
      attributes: [attr.raw(0x8001, Buffer.alloc(0xfff0)), attr.raw(0x8001, Buffer.alloc(100))],
    })
    expect(codeOf(() => encodeMessage(big))).toBe('STUN_TOO_LARGE')
    expect(codeOf(() => encodeMessage({ ...big, method: 0x1000 }))).toBe('STUN_BAD_INPUT')
    expect(codeOf(() => encodeMessage({ ...big, transactionId: Buffer.alloc(11) }))).toBe(
      'STUN_BAD_INPUT',
    )
  })
})

describe('parseServer', () => {
  it('accepts host:port, IPs and [v6]:port', () => {
    expect(parseServer('stun.example.org')).toEqual({ host: 'stun.example.org', port: 3478 })
    expect(parseServer('127.0.0.1:19302')).toEqual({ host: '127.0.0.1', port: 19302 })
    expect(parseServer('::1')).toEqual({ host: '::1', port: 3478 })
    expect(parseServer('[::1]:5000')).toEqual({ host: '::1', port: 5000 })
    for (const bad of ['', 'a:b', 'h:70000', '[::1', '[::1]x', 'a b:1']) {
      expect(
        codeOf(() => parseServer(bad)),
        bad,
      ).toBe('STUN_BAD_INPUT')
    }
  })
})
