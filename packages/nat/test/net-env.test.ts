import { describe, expect, it } from 'vitest'
import {
  defaultRoutes,
  inCidr,
  interfaceFallback,
  ipScope,
  isPublicIp,
  listInterfaces,
  parseProcIpv6Route,
  parseProcNetRoute,
  probeAddresses,
} from '../src/index.js'

describe('ipScope', () => {
  it.each([
    ['10.1.2.3', 'private'],
    ['100.64.1.1', 'cgnat'],
    ['127.0.0.1', 'loopback'],
    ['169.254.1.1', 'link-local'],
    ['192.168.1.1', 'private'],
    ['198.18.1.1', 'benchmark'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.251', 'multicast'],
    ['8.8.8.8', 'public'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'ula'],
    ['2001:db8::1', 'documentation'],
    ['2a00:1450::1', 'public'],
    ['::ffff:10.0.0.1', 'private'],
  ])('%s → %s', (ip, scope) => {
    expect(ipScope(ip)).toBe(scope)
  })
  it('the lab declares 198.18.0.0/15 public', () => {
    expect(isPublicIp('198.18.1.1')).toBe(false)
    expect(isPublicIp('198.18.1.1', { publicRanges: ['198.18.0.0/15'] })).toBe(true)
    expect(isPublicIp('8.8.8.8', { privateRanges: ['8.0.0.0/8'] })).toBe(false)
  })
  it('inCidr', () => {
    expect(inCidr('198.19.255.255', '198.18.0.0/15')).toBe(true)
    expect(inCidr('198.20.0.0', '198.18.0.0/15')).toBe(false)
    expect(inCidr('2001:db8::5', '2001:db8::/32')).toBe(true)
    expect(inCidr('10.0.0.1', '2001:db8::/32')).toBe(false)
  })
})

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wlan0\t00000000\t0100000A\t0003\t0\t0\t600\t00000000\t0\t0\t0
`
const ROUTE6 = `00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0
`

describe('routes', () => {
  it('parses /proc/net/route default routes (little-endian hex), best metric first', () => {
    expect(parseProcNetRoute(ROUTE)).toEqual([
      { family: 4, iface: 'eth0', gateway: '192.168.1.1', metric: 100 },
      { family: 4, iface: 'wlan0', gateway: '10.0.0.1', metric: 600 },
    ])
  })
  it('parses /proc/net/ipv6_route default routes, skipping the loopback reject route', () => {
    expect(parseProcIpv6Route(ROUTE6)).toEqual([
      { family: 6, iface: 'eth0', gateway: 'fe80::1', metric: 1024 },
    ])
  })
  it('falls back to interfaces without /proc', async () => {
    const r = await defaultRoutes({
      procDir: '/nonexistent',
      fallback: () => [{ family: 4, iface: 'x', metric: 0 }],
    })
    expect(r).toEqual([{ family: 4, iface: 'x', metric: 0 }])
    const f = interfaceFallback({
      lo: [
        {
          address: '127.0.0.1',
          family: 'IPv4',
          internal: true,
          netmask: '255.0.0.0',
          mac: '',
          cidr: '127.0.0.1/8',
        },
      ],
      eth0: [
        {
          address: '10.1.0.2',
          family: 'IPv4',
          internal: false,
          netmask: '255.255.255.0',
          mac: '',
          cidr: '10.1.0.2/24',
        },
      ],
    })
    expect(f).toEqual([{ family: 4, iface: 'eth0', metric: 0 }])
  })
  it('reads this machine without throwing', async () => {
    const routes = await defaultRoutes()
    expect(Array.isArray(routes)).toBe(true)
    const ifaces = await listInterfaces()
    expect(ifaces.some((i) => i.addresses.some((a) => a.scope === 'loopback'))).toBe(true)
  })
  it('interfaces with a default route come first; probe addresses skip loopback', async () => {
    const ifaces = await listInterfaces({
      interfaces: {
        lo: [
          {
            address: '127.0.0.1',
            family: 'IPv4',
            internal: true,
            netmask: '255.0.0.0',
            mac: '',
            cidr: '127.0.0.1/8',
          },
        ],
        eth1: [
          {
            address: '10.9.0.2',
            family: 'IPv4',
            internal: false,
            netmask: '255.255.255.0',
            mac: '',
            cidr: '10.9.0.2/24',
          },
        ],
        eth0: [
          {
            address: '198.18.1.1',
            family: 'IPv4',
            internal: false,
            netmask: '255.254.0.0',
            mac: '',
            cidr: '198.18.1.1/15',
          },
        ],
      },
      routes: [{ family: 4, iface: 'eth0', metric: 0 }],
      publicRanges: ['198.18.0.0/15'],
    })
    expect(ifaces.map((i) => i.name)).toEqual(['eth0', 'eth1', 'lo'])
    expect(ifaces[0]!.addresses[0]!.scope).toBe('public')
    expect(probeAddresses(ifaces, 4).map((a) => a.address)).toEqual(['198.18.1.1'])
  })
})
