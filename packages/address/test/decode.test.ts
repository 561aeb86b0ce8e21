import { P2pdError } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import {
  AddressError,
  decodePeerAddress,
  encodePeerAddress,
  isPeerAddress,
  MAX_ADDRESS_LENGTH,
} from '../src/index.js'
import { cpuMs, expectAddressError, item4, KEY_ID } from './helpers.js'

const ok4 = item4()
const addr4 = (item: string, signal = '0') => `${signal}-${item}-0-n-m`
const ip6item = (ext: string, nic = 'fe80::1') => `[0,0,${ext},${nic},1234,1,1,0]`
const addr6 = (item: string) => `0-0-${item}-n-m`

describe('decodePeerAddress: input', () => {
  it('refuses non-strings with ADDRESS_TYPE, never a TypeError', () => {
    for (const bad of [undefined, null, 42, {}, [], Symbol('x'), 10n, () => 'x']) {
      const err = expectAddressError(
        () => decodePeerAddress(bad as unknown as string),
        'ADDRESS_TYPE',
      )
      expect(err).toBeInstanceOf(P2pdError)
      expect(err.name).toBe('AddressError')
      expect(err.field).toBe('address')
    }
  })

  it('checks the length first', () => {
    const long = 'é'.repeat(MAX_ADDRESS_LENGTH + 1) // would also fail the charset check
    expectAddressError(() => decodePeerAddress(long), 'ADDRESS_TOO_LONG')
  })

  it('rejects a 1 MB input fast', () => {
    const huge = `${'0,'.repeat(1 << 19)}`
    const ms = cpuMs(() => {
      for (let i = 0; i < 100; i++)
        expectAddressError(() => decodePeerAddress(huge), 'ADDRESS_TOO_LONG')
    })
    expect(ms).toBeLessThan(100) // 100 rejections: well under 1 ms of CPU each
  })

  it('accepts printable ASCII only', () => {
    const err = expectAddressError(
      () => decodePeerAddress(addr4(ok4).replace('n', 'ñ')),
      'ADDRESS_CHARSET',
    )
    expect(err.message).toContain('U+00f1')
    expectAddressError(() => decodePeerAddress(`${addr4(ok4)}\n`), 'ADDRESS_CHARSET')
    expectAddressError(
      () => decodePeerAddress(addr4(ok4).replace('8.8.8.8', '8.8.8.8\0')),
      'ADDRESS_CHARSET',
    )
  })

  it('wants exactly five sections', () => {
    expectAddressError(() => decodePeerAddress(''), 'ADDRESS_SECTIONS')
    expectAddressError(() => decodePeerAddress('----'), 'ADDRESS_SIGNAL') // five empty sections
    expectAddressError(() => decodePeerAddress(`${addr4(ok4)}-x`), 'ADDRESS_SECTIONS')
  })
})

describe('decodePeerAddress: signal offsets', () => {
  it('reads None and offset lists in order', () => {
    expect(decodePeerAddress(addr4(ok4, 'None')).signal).toEqual([])
    expect(decodePeerAddress(addr4(ok4, '14,0,255')).signal).toEqual([14, 0, 255])
  })

  it.each([
    ['', 'empty'],
    ['none', 'wrong case'],
    ['1,', 'trailing comma'],
    [',1', 'leading comma'],
    ['1,,2', 'empty offset'],
    ['01', 'leading zero'],
    ['+1', 'sign'],
    ['256', 'above 255'],
    ['1,2,1', 'repeated'],
    ['1 ', 'space'],
    ['None,1', 'None mixed with offsets'],
  ])('refuses %j (%s)', (signal) => {
    expectAddressError(() => decodePeerAddress(addr4(ok4, signal)), 'ADDRESS_SIGNAL')
  })
})

describe('decodePeerAddress: interface items', () => {
  it('reads "0" as an empty family and up to three items', () => {
    const three = [0, 1, 2].map((i) => item4({ 1: String(i) })).join('|')
    expect(decodePeerAddress(addr4(three)).ip4.map((i) => i.ifIndex)).toEqual([0, 1, 2])
    expect(decodePeerAddress('0-0-0-n-m')).toMatchObject({ ip4: [], ip6: [] })
  })

  it('refuses a fourth interface in a family', () => {
    const four = [0, 1, 2, 3].map((i) => item4({ 1: String(i) })).join('|')
    expectAddressError(() => decodePeerAddress(addr4(four)), 'ADDRESS_TOO_MANY_INTERFACES')
  })

  it.each([
    ['', 'empty section'],
    ['1,0,8.8.8.8,10.0.0.1,10001,1,2,0', 'no brackets'],
    ['[1,0,8.8.8.8,10.0.0.1,10001,1,2,0', 'no closing bracket'],
    ['1,0,8.8.8.8,10.0.0.1,10001,1,2,0]', 'no opening bracket'],
    ['[', 'lone bracket'],
    [`${ok4}|`, 'trailing |'],
    [`|${ok4}`, 'leading |'],
    [`${ok4}||${item4({ 1: '1' })}`, 'empty item'],
    [`0|${ok4}`, '"0" mixed with items'],
    [`(${ok4.slice(1, -1)})`, 'round brackets'],
  ])('refuses %j with ADDRESS_BRACKETS (%s)', (section) => {
    expectAddressError(() => decodePeerAddress(addr4(section)), 'ADDRESS_BRACKETS')
  })

  it.each([
    ['[]', 1],
    ['[1,0,8.8.8.8,10.0.0.1,10001,1,2]', 7],
    ['[1,0,8.8.8.8,10.0.0.1,10001,1,2,0,0]', 9],
    ['[0,1.3.3.7,192.168.21.21,58959,3,2,0]', 7],
  ])('refuses %j with ADDRESS_FIELDS (%i fields)', (item, count) => {
    const err = expectAddressError(() => decodePeerAddress(addr4(item)), 'ADDRESS_FIELDS')
    expect(err.message).toContain(`${count} fields`)
  })

  it.each([
    [0, '01'],
    [0, '+1'],
    [1, ''],
    [1, '1.0'],
    [4, ' 1'],
    [4, '1 '],
    [4, '0x10'],
    [4, '1e3'],
    [5, 'III'],
    [6, '00'],
    [7, '+5'],
    [7, '~0'],
    [7, '~'],
    [7, '~~5'],
    [7, '~+5'],
    [7, '~05'],
    [7, '5~'],
  ])('refuses field %i = %j with ADDRESS_NUMBER', (index, value) => {
    expectAddressError(() => decodePeerAddress(addr4(item4({ [index]: value }))), 'ADDRESS_NUMBER')
  })

  it.each([
    [0, '65536', 'ADDRESS_INDEX'],
    [1, '99999999999999999999999', 'ADDRESS_INDEX'],
    [4, '0', 'ADDRESS_PORT'],
    [4, '65536', 'ADDRESS_PORT'],
    [5, '0', 'ADDRESS_NAT_TYPE'],
    [5, '8', 'ADDRESS_NAT_TYPE'],
    [6, '0', 'ADDRESS_DELTA_TYPE'],
    [6, '7', 'ADDRESS_DELTA_TYPE'],
    [7, '65536', 'ADDRESS_DELTA_VALUE'],
    [7, '~65536', 'ADDRESS_DELTA_VALUE'],
  ] as const)('refuses field %i = %j with %s', (index, value, code) => {
    const err = expectAddressError(() => decodePeerAddress(addr4(item4({ [index]: value }))), code)
    expect(err.message).toContain(value)
  })

  it('accepts the range edges', () => {
    const edges = item4({ 0: '65535', 1: '65535', 4: '65535', 5: '7', 6: '6', 7: '~65535' })
    const [iface] = decodePeerAddress(addr4(edges)).ip4
    expect(iface).toMatchObject({ netifaceIndex: 65535, ifIndex: 65535, port: 65535 })
    expect(iface?.nat).toEqual({ type: 7, delta: { type: 6, value: -65535 } })
    const low = decodePeerAddress(addr4(item4({ 0: '0', 4: '1', 5: '1', 6: '1', 7: '65535' })))
    expect(low.ip4[0]?.nat.delta.value).toBe(65535)
  })

  it('names the field in the message', () => {
    const two = `${ok4}|${item4({ 1: '1', 6: '9' })}`
    const err = expectAddressError(() => decodePeerAddress(addr4(two)), 'ADDRESS_DELTA_TYPE')
    expect(err.field).toBe('ip4[1].nat.delta.type')
    expect(err.message).toBe('ip4[1].nat.delta.type: "9" is outside 1–6')
  })

  it('truncates long offending values in messages', () => {
    const err = expectAddressError(
      () => decodePeerAddress(addr4(item4({ 3: 'a'.repeat(500) }))),
      'ADDRESS_IP',
    )
    expect(err.message.length).toBeLessThan(200)
    expect(err.message).toContain('…')
  })
})

describe('decodePeerAddress: negative delta values (~N)', () => {
  it('reads ~N as −N and writes it back the same way', () => {
    const text = addr4(item4({ 6: '4', 7: '~5' }))
    const addr = decodePeerAddress(text)
    expect(addr.ip4[0]?.nat.delta).toEqual({ type: 4, value: -5 })
    expect(encodePeerAddress(addr)).toBe(text)
  })
})

describe('decodePeerAddress: IP addresses and families', () => {
  it.each([
    '256.1.1.1',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.04',
    '1..3.4',
    '.1.2.3',
    '1.2.3.4.',
    '0x7f.0.0.1',
    '127.1',
    'localhost',
    '',
    '1.2.3.4%eth0',
    '1.2.3.4/24',
  ])('refuses %j in the ip4 section with ADDRESS_IP', (ip) => {
    expectAddressError(() => decodePeerAddress(addr4(item4({ 2: ip }))), 'ADDRESS_IP')
  })

  it.each(['2001:db8::1', '::1', '::ffff:1.2.3.4'])(
    'refuses IPv6 %j in the ip4 section with ADDRESS_FAMILY',
    (ip) => {
      expectAddressError(() => decodePeerAddress(addr4(item4({ 3: ip }))), 'ADDRESS_FAMILY')
    },
  )

  it.each([
    '1.2.3.4',
    '::ffff:1.2.3.4',
    '::ffff:102:304',
    '0000:0000:0000:0000:0000:ffff:0102:0304',
  ])('refuses IPv4 (or IPv4-mapped) %j in the ip6 section with ADDRESS_FAMILY', (ip) => {
    expectAddressError(() => decodePeerAddress(addr6(ip6item(ip))), 'ADDRESS_FAMILY')
  })

  it.each([
    ['::', '0000:0000:0000:0000:0000:0000:0000:0000'],
    ['::1', '0000:0000:0000:0000:0000:0000:0000:0001'],
    ['2001:DB8::A', '2001:0db8:0000:0000:0000:0000:0000:000a'],
    ['1:2:3:4:5:6:7::', '0001:0002:0003:0004:0005:0006:0007:0000'],
    ['::2:3:4:5:6:7:8', '0000:0002:0003:0004:0005:0006:0007:0008'],
    ['64:ff9b::1.2.3.4', '0064:ff9b:0000:0000:0000:0000:0102:0304'],
    ['fe80::1%12', 'fe80:0000:0000:0000:0000:0000:0000:0001'],
    ['fe80::abcd%enp0s31f6', 'fe80:0000:0000:0000:0000:0000:0000:abcd'],
  ])('normalises %j to %j', (ip, exploded) => {
    expect(decodePeerAddress(addr6(ip6item(ip))).ip6[0]?.ext).toBe(exploded)
  })

  it.each([
    'fe80::1%',
    'fe80::1%eth 0',
    'fe80::1%eth0%1',
    'fe80::1%averyveryverylongname',
    'fe80::1%et/h',
    ':::1',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '12345::1',
    'g::1',
    ':1::2',
    '1::2:',
    '::1.2.3',
    '1.2.3.4::',
    '[::1]',
  ])('refuses %j in the ip6 section with ADDRESS_IP', (ip) => {
    expectAddressError(() => decodePeerAddress(addr6(ip6item(ip))), 'ADDRESS_IP')
  })
})

describe('decodePeerAddress: node and machine IDs', () => {
  it('flags a compressed public key as not legacy', () => {
    const addr = decodePeerAddress(`0-${ok4}-0-${KEY_ID}-m`)
    expect(addr).toMatchObject({ nodeId: KEY_ID, legacy: false })
    expect(decodePeerAddress(`0-${ok4}-0-02${KEY_ID.slice(2)}-m`).legacy).toBe(false)
  })

  it('accepts legacy tokens up to 64 characters and flags them', () => {
    for (const id of ['5b6b92b37b765963ab61d52a3', 'n', 'a_b.C9', 'x'.repeat(64)]) {
      expect(decodePeerAddress(`0-${ok4}-0-${id}-m`)).toMatchObject({ nodeId: id, legacy: true })
    }
  })

  it.each([
    ['', 'empty'],
    ['x'.repeat(65), 'too long'],
    [KEY_ID.toUpperCase(), 'upper-case key (66 chars, not a token either)'],
    [`04${KEY_ID.slice(2)}`, 'not a compressed prefix'],
    [`${KEY_ID}0`, 'key plus a char'],
    ['a b', 'space'],
    ['a,b', 'comma'],
    ['a|b', 'pipe'],
  ])('refuses node id %j (%s)', (id) => {
    expectAddressError(() => decodePeerAddress(`0-${ok4}-0-${id}-m`), 'ADDRESS_NODE_ID')
  })

  it('accepts machine ids up to 128 characters', () => {
    const id = 'f'.repeat(128)
    expect(decodePeerAddress(`0-${ok4}-0-n-${id}`).machineId).toBe(id)
    expectAddressError(() => decodePeerAddress(`0-${ok4}-0-n-${id}f`), 'ADDRESS_MACHINE_ID')
    expectAddressError(() => decodePeerAddress(`0-${ok4}-0-n-a:b`), 'ADDRESS_MACHINE_ID')
  })
})

describe('isPeerAddress', () => {
  it('answers without throwing', () => {
    expect(isPeerAddress(addr4(ok4))).toBe(true)
    expect(isPeerAddress(addr4(item4({ 4: '0' })))).toBe(false)
    expect(isPeerAddress(42)).toBe(false)
  })

  it('is an AddressError for every refusal', () => {
    expect(() => decodePeerAddress('nope')).toThrow(AddressError)
  })
})
