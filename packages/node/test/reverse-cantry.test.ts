import { DeltaType, NatType, type PeerAddress } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { reverse } from '../src/index.js'

const iface = (ext: string, type: NatType) => ({
  netifaceIndex: 0,
  ifIndex: 0,
  ext,
  nic: ext,
  port: 4000,
  nat: { type, delta: { type: DeltaType.NotApplicable, value: 0 } },
})
const peer = (over: Partial<PeerAddress>): PeerAddress => ({
  signal: [0],
  ip4: [],
  ip6: [],
  nodeId: `02${'ab'.repeat(32)}`,
  legacy: false,
  machineId: Math.random().toString(36),
  ...over,
})

describe('reverse.canTry', () => {
  const r = reverse()
  it('tries when our listener is open in a family the peer has', () => {
    const local = peer({ ip4: [iface('198.51.100.1', NatType.OpenInternet)] })
    const remote = peer({ ip4: [iface('203.0.113.9', NatType.PortRestrictedCone)] })
    expect(r.canTry(local, remote)).toBe(true)
  })

  it('skips (so the punch starts at once) when we are open only in a family the peer lacks', () => {
    const local = peer({
      ip4: [iface('198.51.100.1', NatType.PortRestrictedCone)],
      ip6: [iface('2001:db8::1', NatType.OpenInternet)],
    })
    const remote = peer({ ip4: [iface('203.0.113.9', NatType.PortRestrictedCone)] })
    expect(r.canTry(local, remote)).toBe('the peer has no IP family in which we are reachable')
  })

  it('skips when we are not reachable at all', () => {
    const local = peer({ ip4: [iface('198.51.100.1', NatType.PortRestrictedCone)] })
    const remote = peer({ ip4: [iface('203.0.113.9', NatType.OpenInternet)] })
    expect(r.canTry(local, remote)).toBe('we are not reachable either')
  })
})
