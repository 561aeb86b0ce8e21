import { DeltaType, NatType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { decodePeerAddress, encodePeerAddress } from '../src/index.js'
import { expectAddressError } from './helpers.js'

// Vectors produced by running P2PD's own parser, parse_peer_addr, at commit 430a323.
// P2PD keys interfaces by if-index in a dict; we keep them as a list in text order.

describe('P2PD vectors that P2PD accepts decode to the same values', () => {
  it('V1 (tests/test_p2p_addr.py)', () => {
    const text =
      '0,2,3,1-[1,0,8.8.8.8,192.168.21.3,10001,1,2,1]-0-93e9d6f7e7791ea06544557a2-' +
      'c88e78bafc408223a97b560ea94f1bb4d5fc58a5705a41a2a94d54466d552816'
    const addr = decodePeerAddress(text)
    expect(addr).toEqual({
      signal: [0, 2, 3, 1],
      ip4: [
        {
          netifaceIndex: 1,
          ifIndex: 0,
          ext: '8.8.8.8',
          nic: '192.168.21.3',
          port: 10001,
          nat: { type: NatType.OpenInternet, delta: { type: DeltaType.Equal, value: 1 } },
        },
      ],
      ip6: [],
      nodeId: '93e9d6f7e7791ea06544557a2',
      legacy: true, // P2PD's 25-hex hash id: cannot be authenticated
      machineId: 'c88e78bafc408223a97b560ea94f1bb4d5fc58a5705a41a2a94d54466d552816',
    })
    expect(encodePeerAddress(addr)).toBe(text)
  })

  it('V2 (docs/source/articles/how.rst), with illustrative ids', () => {
    const text = '0,1-[1,0,8.8.8.8,192.168.21.21,58959,3,2,0]-0-zmUGXPOFxUBuToh-easdasd'
    const addr = decodePeerAddress(text)
    expect(addr).toEqual({
      signal: [0, 1],
      ip4: [
        {
          netifaceIndex: 1,
          ifIndex: 0,
          ext: '8.8.8.8',
          nic: '192.168.21.21',
          port: 58959,
          nat: { type: NatType.FullCone, delta: { type: DeltaType.Equal, value: 0 } },
        },
      ],
      ip6: [],
      nodeId: 'zmUGXPOFxUBuToh',
      legacy: true,
      machineId: 'easdasd',
    })
    expect(encodePeerAddress(addr)).toBe(text)
  })

  it('None signal, two IPv4 interfaces, compressed IPv6 (normalised to exploded)', () => {
    const text =
      'None-[0,0,1.2.3.4,10.0.0.2,1234,5,6,0]|[2,1,5.6.7.8,10.0.1.2,1234,5,6,0]-' +
      '[0,0,2001:db8::1,fe80::1,1234,1,1,0]-nodeid-mid'
    const addr = decodePeerAddress(text)
    const nat56 = { type: NatType.PortRestrictedCone, delta: { type: DeltaType.Random, value: 0 } }
    expect(addr).toEqual({
      signal: [],
      ip4: [
        { netifaceIndex: 0, ifIndex: 0, ext: '1.2.3.4', nic: '10.0.0.2', port: 1234, nat: nat56 },
        { netifaceIndex: 2, ifIndex: 1, ext: '5.6.7.8', nic: '10.0.1.2', port: 1234, nat: nat56 },
      ],
      ip6: [
        {
          netifaceIndex: 0,
          ifIndex: 0,
          ext: '2001:0db8:0000:0000:0000:0000:0000:0001',
          nic: 'fe80:0000:0000:0000:0000:0000:0000:0001',
          port: 1234,
          nat: { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } },
        },
      ],
      nodeId: 'nodeid',
      legacy: true,
      machineId: 'mid',
    })
    // Not canonical (compressed IPv6), so the encoder writes the exploded form P2PD writes.
    expect(encodePeerAddress(addr)).toBe(
      'None-[0,0,1.2.3.4,10.0.0.2,1234,5,6,0]|[2,1,5.6.7.8,10.0.1.2,1234,5,6,0]-' +
        '[0,0,2001:0db8:0000:0000:0000:0000:0000:0001,fe80:0000:0000:0000:0000:0000:0000:0001,1234,1,1,0]-nodeid-mid',
    )
  })

  it('zone id on a link-local nic: accepted and dropped, as P2PD does', () => {
    const addr = decodePeerAddress('0-0-[3,7,2001:db8::1,fe80::1%eth0,1,1,1,0]-n-m')
    expect(addr.signal).toEqual([0])
    expect(addr.ip4).toEqual([])
    expect(addr.ip6).toEqual([
      {
        netifaceIndex: 3,
        ifIndex: 7,
        ext: '2001:0db8:0000:0000:0000:0000:0000:0001',
        nic: 'fe80:0000:0000:0000:0000:0000:0000:0001',
        port: 1,
        nat: { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } },
      },
    ])
    expect(addr.nodeId).toBe('n')
    expect(addr.machineId).toBe('m')
  })

  it('eight signal offsets (P2PD accepts; so do we — our limit is 8)', () => {
    const addr = decodePeerAddress('1,2,3,4,5,6,7,8-[1,0,8.8.8.8,10.0.0.1,10001,1,2,0]-0-n-m')
    expect(addr.signal).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })
})

describe('P2PD vectors where P2PD fails or where we are deliberately stricter', () => {
  it('a negative delta written "-5" splits into 6 sections (P2PD: None)', () => {
    // The same value is representable as "~5"; see the delta tests.
    expectAddressError(
      () => decodePeerAddress('0,99-[1,0,8.8.8.8,192.168.21.3,10001,1,2,-5]-0-n-m'),
      'ADDRESS_SECTIONS',
    )
  })

  it('a non-numeric signal offset (P2PD: raises ValueError, a crash — we: a typed error)', () => {
    expectAddressError(
      () => decodePeerAddress('x-[1,0,8.8.8.8,10.0.0.1,10001,1,2,0]-0-n-m'),
      'ADDRESS_SIGNAL',
    )
  })

  it('port 70000 (P2PD: accepted, its validation result is ignored)', () => {
    // P2PD also silently drops offset 15 here (outside its 15-broker list). We keep offsets
    // up to 255 — the broker list is configuration, not protocol — so 15 is fine and the
    // error is the port.
    const err = expectAddressError(
      () => decodePeerAddress('0,15,14-[1,0,8.8.8.8,10.0.0.1,70000,1,1,0]-0-n-m'),
      'ADDRESS_PORT',
    )
    expect(err.field).toBe('ip4[0].port')
    expect(err.message).toContain('70000')
  })

  it('a space inside a numeric field (P2PD: silently drops the whole interface)', () => {
    const err = expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,10.0.0.1, 1,1,1,0]-0-n-m'),
      'ADDRESS_NUMBER',
    )
    expect(err.message).toContain('" 1"')
  })

  it('a bad IP 999.1.1.1 (P2PD: silently drops the whole interface)', () => {
    const err = expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,999.1.1.1,10001,1,2,0]-0-n-m'),
      'ADDRESS_IP',
    )
    expect(err.field).toBe('ip4[0].nic')
  })

  it('the same if-index twice (P2PD: keeps the second, silently)', () => {
    const err = expectAddressError(
      () =>
        decodePeerAddress(
          '0-[1,0,8.8.8.8,192.168.21.3,10001,1,2,0]|[1,0,8.8.4.4,192.168.21.4,10001,1,2,0]-0-n-m',
        ),
      'ADDRESS_DUPLICATE_INTERFACE',
    )
    expect(err.field).toBe('ip4[1].ifIndex')
  })

  it('X…Y instead of […] (P2PD: accepted — it strips any first and last byte)', () => {
    expectAddressError(
      () => decodePeerAddress('0-X1,0,8.8.8.8,10.0.0.1,0,1,1,0Y-0--'),
      'ADDRESS_BRACKETS',
    )
    // The same vector's other laxities, one at a time: port 0 and empty ids.
    expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,10.0.0.1,0,1,1,0]-0-n-m'),
      'ADDRESS_PORT',
    )
    expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,10.0.0.1,1,1,1,0]-0--m'),
      'ADDRESS_NODE_ID',
    )
    expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,10.0.0.1,1,1,1,0]-0-n-'),
      'ADDRESS_MACHINE_ID',
    )
  })

  it('four sections (P2PD: None)', () => {
    expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,192.168.21.3,10001,1,2,0]-0-n'),
      'ADDRESS_SECTIONS',
    )
  })

  it('the obsolete 3-section, 7-field format of docs/rest_api.rst (P2PD: None)', () => {
    expectAddressError(
      () => decodePeerAddress('[0,1.3.3.7,192.168.21.21,58959,3,2,0]-0-looongcatislong'),
      'ADDRESS_SECTIONS',
    )
  })

  it('nat type 9 (P2PD: accepted, validation ignored)', () => {
    expectAddressError(
      () => decodePeerAddress('0-[1,0,8.8.8.8,10.0.0.1,10001,9,2,0]-0-n-m'),
      'ADDRESS_NAT_TYPE',
    )
  })

  it('nine signal offsets (P2PD: accepted; its own validator wants at most 6)', () => {
    expectAddressError(
      () => decodePeerAddress('1,2,3,4,5,6,7,8,9-[1,0,8.8.8.8,10.0.0.1,10001,1,2,0]-0-n-m'),
      'ADDRESS_SIGNAL',
    )
  })
})
