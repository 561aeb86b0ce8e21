import { type AddressInterface, DeltaType, NatType, type PeerAddress } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import {
  interfacePair,
  type NatRecord,
  offerFamily,
  punch,
  punchCost,
  punchMode,
} from '../src/index.js'

const nat = (type: NatRecord['type'], delta: NatRecord['delta']['type'] = 2, value = 0) => ({
  type,
  delta: { type: delta, value },
})
const open = nat(NatType.OpenInternet, DeltaType.NotApplicable)
const firewall = nat(NatType.SymmetricUdpFirewall, DeltaType.NotApplicable)
const full = nat(NatType.FullCone)
const portRestricted = nat(NatType.PortRestrictedCone)
const seq1 = nat(NatType.Symmetric, DeltaType.Independent, 1)
const random = nat(NatType.Symmetric, DeltaType.Random)

const iface = (ext: string, nic: string, n: NatRecord): AddressInterface => ({
  netifaceIndex: 0,
  ifIndex: 0,
  ext,
  nic,
  port: 4000,
  nat: n,
})

/** A peer: an IPv4 interface behind `v4` (if given) and a global IPv6 one behind `v6`. */
const peer = (
  k: number,
  v4: NatRecord | undefined,
  v6: NatRecord | undefined,
  over: Partial<PeerAddress> = {},
): PeerAddress =>
  ({
    signal: [0],
    ip4: v4 ? [iface(`198.18.0.${30 + k}`, `10.0.${k}.2`, v4)] : [],
    ip6: v6 ? [iface(`2001:db8:${k}::2`, `2001:db8:${k}::2`, v6)] : [],
    nodeId: `02${String(k).repeat(64).slice(0, 64)}`,
    legacy: false,
    machineId: String(k).repeat(64).slice(0, 64),
    ...over,
  }) as PeerAddress

/** The family each side picks must be the same (no family travels in the offer of old peers). */
const agreed = (a: PeerAddress, b: PeerAddress) => {
  const ab = interfacePair(a, b)
  const ba = interfacePair(b, a)
  expect(ab?.family).toBe(ba?.family)
  return ab?.family
}

describe('punch family choice', () => {
  it('ranks NAT pairs by what a punch needs', () => {
    expect(punchCost(open, portRestricted)).toBe(0)
    expect(punchCost(full, random)).toBe(0)
    expect(punchCost(firewall, firewall)).toBe(1)
    expect(punchCost(portRestricted, portRestricted)).toBe(1)
    expect(punchCost(firewall, portRestricted)).toBe(1)
    expect(punchCost(seq1, portRestricted)).toBe(2)
    expect(punchCost(random, portRestricted)).toBe(2)
    expect(punchCost(random, random)).toBe(3)
    expect(punchCost(nat(NatType.Blocked), open)).toBe(3)
  })

  it('punches over the one family in common', () => {
    expect(agreed(peer(1, portRestricted, undefined), peer(2, portRestricted, firewall))).toBe(4)
    expect(agreed(peer(1, undefined, firewall), peer(2, portRestricted, firewall))).toBe(6)
    expect(agreed(peer(1, undefined, firewall), peer(2, portRestricted, undefined))).toBe(undefined)
  })

  it('takes IPv6 firewalls when the IPv4 pair cannot punch or needs prediction', () => {
    expect(agreed(peer(1, random, firewall), peer(2, random, firewall))).toBe(6)
    expect(agreed(peer(1, seq1, firewall), peer(2, portRestricted, firewall))).toBe(6)
    // …and canTry says yes where IPv4 alone would refuse.
    const stun = punch({ stunServers: ['[2001:db8::1]:3478'] })
    expect(stun.canTry(peer(1, random, firewall), peer(2, random, firewall))).toBe(true)
    expect(stun.canTry(peer(1, random, undefined), peer(2, random, firewall))).toMatch(
      /not punchable/,
    )
  })

  it('prefers IPv6 on a tie, IPv4 when only IPv4 has a side that accepts', () => {
    expect(agreed(peer(1, portRestricted, firewall), peer(2, portRestricted, firewall))).toBe(6)
    expect(agreed(peer(1, full, firewall), peer(2, portRestricted, firewall))).toBe(4)
    expect(agreed(peer(1, full, open), peer(2, portRestricted, firewall))).toBe(6)
    // An IPv6 side that cannot be punched (blocked) leaves IPv4.
    expect(agreed(peer(1, seq1, nat(NatType.Blocked)), peer(2, portRestricted, firewall))).toBe(4)
  })

  it('keeps IPv4 on one machine and on a shared IPv4 NAT (a LAN)', () => {
    const a = peer(1, portRestricted, firewall)
    const sameMachine = peer(2, portRestricted, firewall, { machineId: a.machineId })
    expect(agreed(a, sameMachine)).toBe(4)
    expect(punchMode(a, sameMachine)).toBe('self')
    const lanMate = peer(2, portRestricted, firewall, {
      ip4: [iface('198.18.0.31', '10.0.1.3', portRestricted)],
    })
    expect(agreed(a, lanMate)).toBe(4)
    expect(punchMode(a, lanMate)).toBe('lan')
    // Two IPv6 hosts (no NAT) are never a "lan" pair: their public addresses are dialled.
    const v6only = (k: number) => peer(k, undefined, firewall)
    expect(punchMode(v6only(1), v6only(2))).toBe('remote')
  })

  it('lets the answerer follow the family of the offer', () => {
    const a = peer(1, portRestricted, firewall)
    const b = peer(2, portRestricted, firewall)
    const v4 = offerFamily({ mappings: [{ host: '198.18.0.31', port: 40000 }] })
    const v6 = offerFamily({ mappings: [{ host: '2001:db8:1::2', port: 40000 }] })
    expect([v4, v6]).toEqual([4, 6])
    expect(interfacePair(b, a, v4)?.family).toBe(4)
    expect(interfacePair(b, a, v6)?.theirs.ext).toBe('2001:db8:1::2')
    expect(interfacePair(peer(2, portRestricted, undefined), a, 6)).toBeUndefined()
  })
})
