import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  classifyPeer,
  peerAllowed,
  TurnClient,
  TurnError,
  TurnServer,
  type TurnServerOptions,
} from '../src/index.js'

/** Every range the special-purpose registries say a public relay must not reach. */
const REFUSED: ReadonlyArray<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private 10/8'],
  ['172.16.5.4', 'private 172.16/12'],
  ['172.31.255.255', 'private 172.16/12 (top)'],
  ['192.168.1.1', 'private 192.168/16'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['100.64.0.1', 'shared CGNAT 100.64/10'],
  ['100.127.255.255', 'shared CGNAT 100.64/10 (top)'],
  ['0.0.0.0', '"this network"'],
  ['0.1.2.3', '0/8'],
  ['192.0.0.1', 'IETF protocol assignments 192.0.0/24'],
  ['192.0.0.170', 'NAT64 discovery 192.0.0.170'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['192.88.99.1', 'deprecated 6to4 relay anycast'],
  ['198.18.0.1', 'benchmarking 198.18/15'],
  ['198.19.255.255', 'benchmarking 198.18/15 (top)'],
  ['198.51.100.7', 'TEST-NET-2'],
  ['203.0.113.9', 'TEST-NET-3'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast (SSDP)'],
  ['240.0.0.1', 'reserved 240/4'],
  ['255.255.255.255', 'broadcast'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['fc00::1', 'unique local'],
  ['fd12:3456::1', 'unique local'],
  ['fe80::1', 'link-local'],
  ['febf:ffff::1', 'link-local (top)'],
  ['fec0::1', 'site-local'],
  ['feff::1', 'site-local (top)'],
  ['ff02::1', 'multicast'],
  ['ff0e::1', 'multicast (global scope)'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation (3fff::/20)'],
  ['100::1', 'discard-only'],
  ['2001::1', 'Teredo'],
  ['2001:2::1', 'benchmarking (inside 2001::/23)'],
  ['2001:10::1', 'deprecated ORCHID (inside 2001::/23)'],
  ['2001:1ff:ffff::1', '2001::/23 (top)'],
  ['5f00::1', 'SRv6 SIDs'],
  ['64:ff9b:1::1', 'local-use IPv4/IPv6 translation'],
  ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
  ['::ffff:127.0.0.1', 'mapped loopback'],
  ['::ffff:10.0.0.1', 'mapped private'],
  ['::ffff:198.18.0.1', 'mapped benchmarking'],
  ['::ffff:0:10.0.0.1', 'IPv4-translated private'],
  ['::ffff:0:127.0.0.1', 'IPv4-translated loopback'],
  ['64:ff9b::10.0.0.1', 'NAT64 private'],
  ['64:ff9b::127.0.0.1', 'NAT64 loopback'],
  ['64:ff9b::169.254.169.254', 'NAT64 metadata'],
  ['2002:c0a8:101::1', '6to4 of 192.168.1.1'],
  ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
  ['2002:c612:1::1', '6to4 of 198.18.0.1'],
  ['4000::1', 'outside 2000::/3'],
  ['not-an-ip', 'not an address'],
]

const ALLOWED: readonly string[] = [
  '8.8.8.8',
  '1.1.1.1',
  '100.63.255.255',
  '100.128.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.0.1.1',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
  '2606:4700::1111',
  '2001:4860:4860::8888',
  '::ffff:8.8.8.8',
  '::ffff:0:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
  '2001:1::2',
  '2001:20::1',
  '2620:4f:8000::1',
]

describe('peer policy: the special-purpose registries', () => {
  it.each(REFUSED)('refuses %s (%s)', (host) => {
    expect(peerAllowed(host, {})).toBe(false)
    expect(classifyPeer(host)).not.toBe('public')
  })

  it.each(ALLOWED.map((h) => [h]))('relays to %s', (host) => {
    expect(peerAllowed(host, {})).toBe(true)
  })

  it('loopback and private are allowed only when asked for; reserved ranges never', () => {
    expect(peerAllowed('127.0.0.5', { allowLoopbackPeers: true })).toBe(true)
    expect(peerAllowed('::ffff:127.0.0.1', { allowLoopbackPeers: true })).toBe(true)
    expect(peerAllowed('10.0.0.1', { allowLoopbackPeers: true })).toBe(false)
    expect(peerAllowed('10.0.0.1', { allowPrivatePeers: true })).toBe(true)
    expect(peerAllowed('fec0::1', { allowPrivatePeers: true })).toBe(true)
    expect(peerAllowed('64:ff9b::10.0.0.1', { allowPrivatePeers: true })).toBe(true)
    const everything = { allowLoopbackPeers: true, allowPrivatePeers: true }
    for (const host of ['198.18.0.1', '203.0.113.1', '224.0.0.1', '::', '2001:db8::1']) {
      expect(peerAllowed(host, everything), host).toBe(false)
    }
  })

  it('explicit ranges: allowed ones win (a lab on 198.18/15), denied ones refuse', () => {
    const lab = { allowPeerRanges: ['198.18.0.0/15'] }
    expect(peerAllowed('198.18.3.1', lab)).toBe(true)
    expect(peerAllowed('198.19.0.1', lab)).toBe(true)
    expect(peerAllowed('::ffff:198.18.3.1', lab)).toBe(true)
    expect(peerAllowed('203.0.113.1', lab)).toBe(false)
    expect(peerAllowed('10.0.0.1', lab)).toBe(false)
    const deny = { denyPeerRanges: ['8.8.8.0/24', '2606:4700::/32'] }
    expect(peerAllowed('8.8.8.8', deny)).toBe(false)
    expect(peerAllowed('64:ff9b::8.8.8.8', deny)).toBe(false)
    expect(peerAllowed('2606:4700::1111', deny)).toBe(false)
    expect(peerAllowed('8.8.4.4', deny)).toBe(true)
    expect(peerAllowed('8.8.8.8', { ...deny, allowPeerRanges: ['8.8.8.8/32'] })).toBe(true)
    for (const bad of ['198.18.0.0/33', '10.0.0/8', 'lab', '::/129', '1.2.3.4/']) {
      expect(() => new TurnServer({ users: {}, allowPeerRanges: [bad] }), bad).toThrow(TurnError)
    }
  })
})

/** A random address inside one of the non-public IPv4 ranges. */
const nonPublicV4 = fc
  .tuple(
    fc.constantFrom(
      [0, 8],
      [10, 8],
      [100 * 2 ** 24 + 64 * 2 ** 16, 10],
      [127, 8],
      [169 * 2 ** 24 + 254 * 2 ** 16, 16],
      [172 * 2 ** 24 + 16 * 2 ** 16, 12],
      [192 * 2 ** 24, 24],
      [192 * 2 ** 24 + 2 * 2 ** 8, 24],
      [192 * 2 ** 24 + 168 * 2 ** 16, 16],
      [198 * 2 ** 24 + 18 * 2 ** 16, 15],
      [198 * 2 ** 24 + 51 * 2 ** 16 + 100 * 2 ** 8, 24],
      [203 * 2 ** 24 + 113 * 2 ** 8, 24],
      [224, 4],
      [240, 4],
    ),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  )
  .map(([[net, bits], random]) => {
    // Small first numbers are /8 (or /4) first octets; the rest are whole 32-bit networks.
    const base = net < 256 ? net * 2 ** 24 : net
    const hostBits = 32 - bits
    const value = base + (random % 2 ** hostBits)
    return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255] as const
  })

const hex16 = (a: number, b: number) => ((a << 8) | b).toString(16)
const EMBEDDINGS: ReadonlyArray<[string, (v: readonly number[]) => string]> = [
  ['mapped', (v) => `::ffff:${v.join('.')}`],
  ['translated', (v) => `::ffff:0:${v.join('.')}`],
  ['compatible', (v) => `::${v.join('.')}`],
  ['NAT64', (v) => `64:ff9b::${v.join('.')}`],
  [
    'NAT64 local',
    (v) => `64:ff9b:1:${hex16(v[0] ?? 0, v[1] ?? 0)}:${hex16(v[2] ?? 0, v[3] ?? 0)}::`,
  ],
  ['6to4', (v) => `2002:${hex16(v[0] ?? 0, v[1] ?? 0)}:${hex16(v[2] ?? 0, v[3] ?? 0)}::1`],
  ['Teredo', (v) => `2001:0:${hex16(v[0] ?? 0, v[1] ?? 0)}:${hex16(v[2] ?? 0, v[3] ?? 0)}::1`],
]

describe('peer policy: IPv6 forms that carry an IPv4 address (property)', () => {
  it('any IPv6 form embedding a non-public IPv4 is refused', () => {
    fc.assert(
      fc.property(nonPublicV4, fc.constantFrom(...EMBEDDINGS), (v4, [, embed]) => {
        expect(classifyPeer(v4.join('.'))).not.toBe('public')
        expect(peerAllowed(embed(v4), {})).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })

  it('mapped, translated, NAT64 and 6to4 forms are judged exactly as the IPv4 they carry', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 3 }), (ip, i) => {
        const v4 = ip.split('.').map(Number)
        const embed = EMBEDDINGS.filter(([n]) => /^(mapped|translated|NAT64|6to4)$/.test(n))[i]
        expect(classifyPeer((embed as (typeof EMBEDDINGS)[number])[1](v4))).toBe(classifyPeer(ip))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('peer policy in the server', () => {
  const users = { alice: 'wonderland' }
  async function allocate(opts: Partial<TurnServerOptions>) {
    const s = new TurnServer({ users, ...opts })
    await s.start()
    const c = await TurnClient.allocate(
      { ...s.address, username: 'alice', password: 'wonderland' },
      { timeoutMs: 3000, rtoMs: 100 },
    )
    return {
      s,
      c,
      close: async () => {
        await c.close()
        await s.close()
      },
    }
  }

  it('403 for reserved and embedded forms (counted); the lab range passes once allowed', async () => {
    // CreatePermission only records the peer: nothing is ever sent to these addresses.
    const { s, c, close } = await allocate({})
    try {
      for (const host of ['198.18.0.5', '192.0.0.9', '::ffff:10.1.2.3', '64:ff9b::127.0.0.1']) {
        await expect(c.createPermission({ host, port: 9 }), host).rejects.toMatchObject({
          code: 'TURN_FORBIDDEN',
          errorCode: 403,
        })
      }
      expect(s.stats.refusedPeers).toBe(4)
    } finally {
      await close()
    }
    const lab = await allocate({ allowPeerRanges: ['198.18.0.0/15'] })
    try {
      await expect(lab.c.createPermission({ host: '198.18.0.5', port: 9 })).resolves.toBeUndefined()
      expect(lab.s.stats.refusedPeers).toBe(0)
    } finally {
      await lab.close()
    }
  })
})
