import { describe, expect, it } from 'vitest'
import {
  AbortError,
  abortReason,
  Deadline,
  DeltaType,
  isEndpointIndependent,
  isOpenNat,
  isP2pdError,
  isUnpredictableNat,
  NatType,
  natTypeName,
  P2pdError,
  sleep,
  TimeoutError,
  throwIfAborted,
} from '../src/index.js'

describe('NAT codes', () => {
  it('are numbered as P2PD numbers them', () => {
    expect(Object.values(NatType)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(NatType.Symmetric).toBe(6)
    expect(Object.values(DeltaType)).toEqual([1, 2, 3, 4, 5, 6])
    expect(DeltaType.Random).toBe(6)
    expect(natTypeName[NatType.FullCone]).toBe('full cone')
  })

  it('derive the traits the planner uses', () => {
    const nat = (type: NatType, delta: DeltaType = DeltaType.NotApplicable) => ({
      type,
      delta: { type: delta, value: 0 },
    })
    expect(isOpenNat(nat(NatType.OpenInternet))).toBe(true)
    expect(isOpenNat(nat(NatType.FullCone))).toBe(false)
    expect(isEndpointIndependent(nat(NatType.PortRestrictedCone))).toBe(true)
    expect(isEndpointIndependent(nat(NatType.Symmetric, DeltaType.Independent))).toBe(false)
    expect(isUnpredictableNat(nat(NatType.Symmetric, DeltaType.Random))).toBe(true)
    expect(isUnpredictableNat(nat(NatType.Symmetric, DeltaType.Independent))).toBe(false)
  })
})

describe('errors', () => {
  it('carry a code and their class name', () => {
    const e = new P2pdError('X_CODE', 'boom')
    expect(e).toBeInstanceOf(Error)
    expect(e.code).toBe('X_CODE')
    expect(e.name).toBe('P2pdError')
    expect(new TimeoutError().name).toBe('TimeoutError')
    expect(isP2pdError(new TimeoutError(), 'TIMEOUT')).toBe(true)
    expect(isP2pdError(new TimeoutError(), 'ABORTED')).toBe(false)
    expect(isP2pdError(new Error('plain'))).toBe(false)
  })
})

describe('deadlines and aborts', () => {
  it('a Deadline aborts with a TimeoutError', async () => {
    const signal = new Deadline(20).signal
    await expect(sleep(5_000, signal)).rejects.toBeInstanceOf(TimeoutError)
  })

  it('a caller abort wins over the deadline and is typed', async () => {
    const ctrl = new AbortController()
    const signal = new Deadline(5_000, ctrl.signal).signal
    setTimeout(() => ctrl.abort(), 10)
    await expect(sleep(5_000, signal)).rejects.toBeInstanceOf(AbortError)
    expect(() => throwIfAborted(signal)).toThrow(AbortError)
  })

  it('sleep resolves when not aborted, and keeps typed reasons as they are', async () => {
    const t0 = performance.now()
    await sleep(15)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(14)
    const ctrl = new AbortController()
    const reason = new TimeoutError('custom')
    ctrl.abort(reason)
    expect(abortReason(ctrl.signal)).toBe(reason)
  })
})
