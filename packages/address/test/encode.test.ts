import type { AddressInterface, PeerAddress } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import {
  type AddressErrorCode,
  decodePeerAddress,
  encodePeerAddress,
  MAX_ADDRESS_LENGTH,
} from '../src/index.js'
import { cpuMs, expectAddressError, KEY_ID } from './helpers.js'

const iface = (over: Partial<AddressInterface> = {}): AddressInterface => ({
  netifaceIndex: 1,
  ifIndex: 0,
  ext: '8.8.8.8',
  nic: '10.0.0.1',
  port: 10001,
  nat: { type: 3, delta: { type: 2, value: 0 } },
  ...over,
})

const base: PeerAddress = {
  signal: [0, 1],
  ip4: [iface()],
  ip6: [],
  nodeId: KEY_ID,
  legacy: false,
  machineId: 'mid',
}

const encodeAs = (addr: unknown) => () => encodePeerAddress(addr as PeerAddress)

describe('encodePeerAddress', () => {
  it('writes the canonical text', () => {
    expect(encodePeerAddress(base)).toBe(`0,1-[1,0,8.8.8.8,10.0.0.1,10001,3,2,0]-0-${KEY_ID}-mid`)
    expect(encodePeerAddress({ ...base, signal: [], ip4: [] })).toBe(`None-0-0-${KEY_ID}-mid`)
  })

  it('writes negative delta values as ~N, non-negative ones as plain decimal', () => {
    const nat = (value: number) => ({ type: 6 as const, delta: { type: 4 as const, value } })
    const text = encodePeerAddress({
      ...base,
      ip4: [iface({ nat: nat(-5) }), iface({ ifIndex: 1, nat: nat(7) })],
    })
    expect(text).toContain('[1,0,8.8.8.8,10.0.0.1,10001,6,4,~5]|[1,1,8.8.8.8,10.0.0.1,10001,6,4,7]')
    expect(decodePeerAddress(text).ip4.map((i) => i.nat.delta.value)).toEqual([-5, 7])
  })

  it('normalises IPv6 (compressed, upper case, zone id) to the exploded form', () => {
    const text = encodePeerAddress({
      ...base,
      ip6: [iface({ ext: '2001:DB8::1', nic: 'fe80::1%eth0' })],
    })
    expect(text).toContain(
      '[1,0,2001:0db8:0000:0000:0000:0000:0000:0001,fe80:0000:0000:0000:0000:0000:0000:0001,',
    )
  })

  it('ignores nat.range, which the text format does not carry', () => {
    const withRange = iface({
      nat: { type: 3, delta: { type: 2, value: 0 }, range: [1024, 65535] },
    })
    expect(encodePeerAddress({ ...base, ip4: [withRange] })).toBe(encodePeerAddress(base))
  })

  it('fits the largest valid model within MAX_ADDRESS_LENGTH', () => {
    const big = (i: number, ext: string): AddressInterface => ({
      netifaceIndex: 65535 - i,
      ifIndex: 65535 - i,
      ext,
      nic: ext,
      port: 65535,
      nat: { type: 7, delta: { type: 6, value: -65535 } },
    })
    const v6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
    const text = encodePeerAddress({
      signal: [255, 254, 253, 252, 251, 250, 249, 248],
      ip4: [0, 1, 2].map((i) => big(i, '255.255.255.255')),
      ip6: [0, 1, 2].map((i) => big(i, v6)),
      nodeId: KEY_ID,
      legacy: false,
      machineId: 'm'.repeat(128),
    })
    expect(text.length).toBe(749) // the figure documented on MAX_ADDRESS_LENGTH
    expect(text.length).toBeLessThanOrEqual(MAX_ADDRESS_LENGTH)
    expect(encodePeerAddress(decodePeerAddress(text))).toBe(text)
  })

  it.each<[string, unknown, AddressErrorCode]>([
    ['not an object', 'x', 'ADDRESS_TYPE'],
    ['null', null, 'ADDRESS_TYPE'],
    ['signal not an array', { ...base, signal: '0,1' }, 'ADDRESS_TYPE'],
    ['signal offset 256', { ...base, signal: [256] }, 'ADDRESS_SIGNAL'],
    ['signal offset 1.5', { ...base, signal: [1.5] }, 'ADDRESS_SIGNAL'],
    ['signal repeated', { ...base, signal: [3, 3] }, 'ADDRESS_SIGNAL'],
    ['nine signal offsets', { ...base, signal: [0, 1, 2, 3, 4, 5, 6, 7, 8] }, 'ADDRESS_SIGNAL'],
    ['ip4 missing', { ...base, ip4: undefined }, 'ADDRESS_TYPE'],
    ['interface null', { ...base, ip4: [null] }, 'ADDRESS_TYPE'],
    ['nat missing', { ...base, ip4: [{ ...iface(), nat: undefined }] }, 'ADDRESS_TYPE'],
    ['delta missing', { ...base, ip4: [iface({ nat: { type: 1 } as never })] }, 'ADDRESS_TYPE'],
    ['port as a string', { ...base, ip4: [iface({ port: '80' as never })] }, 'ADDRESS_NUMBER'],
    ['port NaN', { ...base, ip4: [iface({ port: Number.NaN })] }, 'ADDRESS_NUMBER'],
    ['port 0', { ...base, ip4: [iface({ port: 0 })] }, 'ADDRESS_PORT'],
    ['port 65536', { ...base, ip4: [iface({ port: 65536 })] }, 'ADDRESS_PORT'],
    ['ifIndex −1', { ...base, ip4: [iface({ ifIndex: -1 })] }, 'ADDRESS_INDEX'],
    ['ifIndex 1.5', { ...base, ip4: [iface({ ifIndex: 1.5 })] }, 'ADDRESS_NUMBER'],
    ['netifaceIndex 65536', { ...base, ip4: [iface({ netifaceIndex: 65536 })] }, 'ADDRESS_INDEX'],
    [
      'nat type 0',
      { ...base, ip4: [iface({ nat: { type: 0 as never, delta: { type: 1, value: 0 } } })] },
      'ADDRESS_NAT_TYPE',
    ],
    [
      'delta type 7',
      { ...base, ip4: [iface({ nat: { type: 1, delta: { type: 7 as never, value: 0 } } })] },
      'ADDRESS_DELTA_TYPE',
    ],
    [
      'delta value −65536',
      { ...base, ip4: [iface({ nat: { type: 1, delta: { type: 1, value: -65536 } } })] },
      'ADDRESS_DELTA_VALUE',
    ],
    [
      'delta value Infinity',
      { ...base, ip4: [iface({ nat: { type: 1, delta: { type: 1, value: Infinity } } })] },
      'ADDRESS_NUMBER',
    ],
    ['ext not a string', { ...base, ip4: [iface({ ext: 42 as never })] }, 'ADDRESS_TYPE'],
    ['ext not an IP', { ...base, ip4: [iface({ ext: 'example.com' })] }, 'ADDRESS_IP'],
    ['ext with a dash', { ...base, ip4: [iface({ ext: '1.2.3.4-5' })] }, 'ADDRESS_IP'],
    ['IPv6 in ip4', { ...base, ip4: [iface({ nic: '::1' })] }, 'ADDRESS_FAMILY'],
    ['IPv4 in ip6', { ...base, ip4: [], ip6: [iface()] }, 'ADDRESS_FAMILY'],
    [
      'IPv4-mapped in ip6',
      { ...base, ip6: [iface({ ext: '::ffff:8.8.8.8', nic: '::1' })] },
      'ADDRESS_FAMILY',
    ],
    [
      'four interfaces',
      { ...base, ip4: [0, 1, 2, 3].map((ifIndex) => iface({ ifIndex })) },
      'ADDRESS_TOO_MANY_INTERFACES',
    ],
    ['duplicate ifIndex', { ...base, ip4: [iface(), iface()] }, 'ADDRESS_DUPLICATE_INTERFACE'],
    ['node id with a dash', { ...base, nodeId: 'a-b', legacy: true }, 'ADDRESS_NODE_ID'],
    ['node id not a string', { ...base, nodeId: 7 }, 'ADDRESS_NODE_ID'],
    ['key id claimed legacy', { ...base, legacy: true }, 'ADDRESS_NODE_ID'],
    ['legacy id claimed a key', { ...base, nodeId: 'abc', legacy: false }, 'ADDRESS_NODE_ID'],
    ['legacy flag missing', { ...base, legacy: undefined }, 'ADDRESS_NODE_ID'],
    ['machine id empty', { ...base, machineId: '' }, 'ADDRESS_MACHINE_ID'],
    ['machine id with a dash', { ...base, machineId: 'a-b' }, 'ADDRESS_MACHINE_ID'],
    ['machine id too long', { ...base, machineId: 'm'.repeat(129) }, 'ADDRESS_MACHINE_ID'],
  ])('refuses a model with %s', (_name, model, code) => {
    expectAddressError(encodeAs(model), code)
  })

  it('names the model field in the message', () => {
    const err = expectAddressError(
      encodeAs({ ...base, ip6: [iface({ ext: '::1', nic: 'fe80::zz' })] }),
      'ADDRESS_IP',
    )
    expect(err.field).toBe('ip6[0].nic')
    expect(err.message).toContain('"fe80::zz"')
  })

  it('refuses huge model values cheaply', () => {
    const ms = cpuMs(() => {
      expectAddressError(encodeAs({ ...base, signal: new Array(1e6).fill(0) }), 'ADDRESS_SIGNAL')
      expectAddressError(
        encodeAs({ ...base, machineId: 'm'.repeat(1 << 20) }),
        'ADDRESS_MACHINE_ID',
      )
      expectAddressError(
        encodeAs({ ...base, ip4: [iface({ ext: '1'.repeat(1 << 20) })] }),
        'ADDRESS_IP',
      )
    })
    expect(ms).toBeLessThan(200)
  })
})
