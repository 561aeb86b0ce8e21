import { DeltaType, NatType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { SLOT_SLACK_MS, slotDials, slotLength } from '../src/flow/slots.js'
import type { LocalSide } from '../src/plan.js'
import type { NatRecord } from '../src/protocol/messages.js'

const rst = { filtering: 'APDF', synPolicy: 'rst' } as const
const drop = { filtering: 'APDF', synPolicy: 'drop' } as const
const cone = (tcp?: NatRecord['tcp']): NatRecord => ({
  type: NatType.PortRestrictedCone,
  delta: { type: DeltaType.Equal, value: 0 },
  ...(tcp ? { tcp } : {}),
})
const seq = (tcp?: NatRecord['tcp']): NatRecord => ({
  type: NatType.Symmetric,
  delta: { type: DeltaType.Independent, value: 1 },
  ...(tcp ? { tcp } : {}),
})
const seqSide: LocalSide = {
  nat: seq(rst),
  mappings: [{ host: '198.18.2.1', port: 40000 }],
  locals: [5000],
  candidatePorts: [40001, 40002, 40003],
}
const coneSide: LocalSide = {
  nat: cone(rst),
  mappings: [{ host: '198.18.1.1', port: 6000 }],
  locals: [6000],
  candidatePorts: [],
}

describe('turns for sequential × cone when both NATs answer RST', () => {
  it('only then, and only in a simultaneous open', () => {
    expect(slotLength(seq(rst), cone(rst), 'none', 0, 2)).toBe(8)
    expect(slotLength(cone(rst), seq(rst), 'none', 1, 5)).toBe(16)
    expect(slotLength(seq(rst), cone(drop), 'none', 0, 2)).toBeUndefined()
    expect(slotLength(seq(), cone(rst), 'none', 0, 2)).toBeUndefined()
    expect(slotLength(cone(rst), cone(rst), 'none', 0, 2)).toBeUndefined()
    expect(slotLength(seq(rst), seq(rst), 'none', 0, 2)).toBeUndefined()
    expect(slotLength(seq(rst), cone(rst), 'peer', 0, 2)).toBeUndefined()
    // The one-way figure includes the offer's stamp: capped, so a slow offer keeps slots short.
    expect(slotLength(seq(rst), cone(rst), 'none', 900, 2)).toBe(28)
  })

  it('the sequential side sends one SYN per turn, mid-slot, from fresh ports', () => {
    const t = slotDials(seqSide, coneSide, 'none', 0, 2, [7001, 7002, 7003])
    expect(t?.role).toBe('sequential')
    expect(t?.pairs.map((p) => p.localPort)).toEqual([7001, 7002, 7003])
    expect(t?.pairs.every((p) => p.maxAttempts === 1 && p.remote.port === 6000)).toBe(true)
    expect(t?.offsets).toEqual([SLOT_SLACK_MS + 4, SLOT_SLACK_MS + 12, SLOT_SLACK_MS + 20])
    expect(t?.activeMs).toBeUndefined()
    // Without fresh ports: the held one, turn after turn.
    expect(slotDials(seqSide, coneSide, 'none', 0, 2)?.pairs.map((p) => p.localPort)).toEqual([
      5000, 5000, 5000,
    ])
  })

  it('the cone retries to the k-th predicted port during turn k only', () => {
    const t = slotDials(coneSide, seqSide, 'none', 0, 2)
    expect(t?.role).toBe('cone')
    expect(t?.pairs.map((p) => p.remote.port)).toEqual([40001, 40002, 40003])
    expect(t?.pairs.every((p) => p.maxAttempts === Number.POSITIVE_INFINITY)).toBe(true)
    expect(t?.offsets).toEqual([SLOT_SLACK_MS, SLOT_SLACK_MS + 8, SLOT_SLACK_MS + 16])
    expect(t?.activeMs).toBe(8)
  })
})
