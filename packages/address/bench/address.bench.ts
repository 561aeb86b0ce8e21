import { bench, describe } from 'vitest'
import { decodePeerAddress, encodePeerAddress } from '../src/index.js'

// A realistic dual-stack address: 4 brokers, 2 IPv4 + 1 IPv6 interfaces, a public-key node ID.
const text =
  '0,2,3,1-[1,0,8.8.8.8,192.168.21.3,10001,5,4,~3]|[2,1,100.64.0.9,10.0.0.2,10001,6,6,0]-' +
  '[1,0,2001:0db8:0000:0000:0000:0000:0000:0001,fe80:0000:0000:0000:0000:0000:0000:0001,10001,1,1,0]-' +
  '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa-' +
  'c88e78bafc408223a97b560ea94f1bb4d5fc58a5705a41a2a94d54466d552816'
const compressed = text
  .replace('2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1')
  .replace('fe80:0000:0000:0000:0000:0000:0000:0001', 'fe80::1%eth0')
const addr = decodePeerAddress(text)
const v2 = '0,1-[1,0,8.8.8.8,192.168.21.21,58959,3,2,0]-0-zmUGXPOFxUBuToh-easdasd'
const v2addr = decodePeerAddress(v2)

describe('peer address', () => {
  bench('decode (dual stack, canonical)', () => {
    decodePeerAddress(text)
  })
  bench('decode (dual stack, compressed IPv6 + zone)', () => {
    decodePeerAddress(compressed)
  })
  bench('decode (P2PD doc vector V2)', () => {
    decodePeerAddress(v2)
  })
  bench('encode (dual stack)', () => {
    encodePeerAddress(addr)
  })
  bench('encode (P2PD doc vector V2)', () => {
    encodePeerAddress(v2addr)
  })
})
