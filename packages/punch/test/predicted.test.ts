import { DeltaType, NatType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { predictsOwnMapping } from '../src/flow/arm.js'
import { settings } from '../src/options.js'
import type { NatRecord } from '../src/protocol/messages.js'

const nat = (type: NatRecord['type'], delta: NatRecord['delta']['type'], value = 0) => ({
  type,
  delta: { type: delta, value },
})
const prEqual = nat(NatType.PortRestrictedCone, DeltaType.Equal)
const rEqual = nat(NatType.RestrictedCone, DeltaType.Equal)
const prRandomPorts = nat(NatType.PortRestrictedCone, DeltaType.Random)
const full = nat(NatType.FullCone, DeltaType.Equal)
const seq1 = nat(NatType.Symmetric, DeltaType.Independent, 1)
const random = nat(NatType.Symmetric, DeltaType.Random)
const s = settings({})

describe('predictsOwnMapping: which side announces ext IP + local port without a STUN round', () => {
  it('a port-preserving cone in a simultaneous open does (either role)', () => {
    expect(predictsOwnMapping(s, 'remote', prEqual, prEqual, prEqual)).toBe(true)
    expect(predictsOwnMapping(s, 'remote', rEqual, rEqual, prEqual)).toBe(true)
    expect(predictsOwnMapping(s, 'remote', prEqual, seq1, prEqual)).toBe(true)
  })

  it('a cone that does not keep the port, a symmetric side, an acceptor, a spray: STUN', () => {
    expect(predictsOwnMapping(s, 'remote', prRandomPorts, prRandomPorts, prEqual)).toBe(false)
    expect(predictsOwnMapping(s, 'remote', seq1, seq1, prEqual)).toBe(false)
    // The peer is a full cone: we dial it, and it listens on its held mapping.
    expect(predictsOwnMapping(s, 'remote', prEqual, prEqual, full)).toBe(false)
    // A restricted cone facing a random NAT opens its filter and listens.
    expect(predictsOwnMapping(s, 'remote', rEqual, random, rEqual)).toBe(false)
    // Random × port-restricted sprays: the cone's held mapping is the spray's target.
    expect(predictsOwnMapping(s, 'remote', prEqual, random, prEqual)).toBe(false)
  })

  it('never outside remote mode, and never when turned off', () => {
    expect(predictsOwnMapping(s, 'lan', prEqual, prEqual, prEqual)).toBe(false)
    const off = settings({ predictMappings: false })
    expect(predictsOwnMapping(off, 'remote', prEqual, prEqual, prEqual)).toBe(false)
  })
})

describe('the measured TCP filter rides in the NAT record', () => {
  it('effectiveNat keeps it in remote mode (the offer and answer carry it)', async () => {
    const { effectiveNat } = await import('../src/plan.js')
    const tcp = { filtering: 'APDF', synPolicy: 'rst' } as const
    expect(effectiveNat('remote', { ...prEqual, tcp }).tcp).toEqual(tcp)
    expect(effectiveNat('lan', { ...prEqual, tcp }).tcp).toBeUndefined()
  })
})
