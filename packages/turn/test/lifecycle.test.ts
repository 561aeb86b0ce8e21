// The allocation upkeep TurnClient and TurnTcpClient share: refresh scheduling, what a failed
// background refresh reports, and nothing armed after stop().
import { AttrType, type DecodedStunMessage, StunMethod } from '@p2pd/stun'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AllocationLifecycle, type LifecycleHost } from '../src/client/lifecycle.js'
import { TurnError } from '../src/errors.js'

function withLifetime(sec: number): DecodedStunMessage {
  const value = Buffer.alloc(4)
  value.writeUInt32BE(sec)
  return { attributes: [{ type: AttrType.Lifetime, value }] } as unknown as DecodedStunMessage
}

function fakeHost(answer: () => Promise<DecodedStunMessage>) {
  const calls: number[] = []
  const events: string[] = []
  const lost: TurnError[] = []
  const host: LifecycleHost = {
    request: (method) => {
      calls.push(method)
      return answer()
    },
    refreshed: (kind) => events.push(kind),
    lose: (err) => lost.push(err),
  }
  return { host, calls, events, lost }
}

describe('AllocationLifecycle', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('refreshes half-way through a short lifetime and says so', async () => {
    const h = fakeHost(async () => withLifetime(2))
    const life = new AllocationLifecycle(h.host, { refreshMarginMs: 60_000 })
    life.setLifetime(withLifetime(2))
    expect(life.lifetimeSec).toBe(2)
    await vi.advanceTimersByTimeAsync(999)
    expect(h.calls).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(h.calls).toEqual([StunMethod.Refresh])
    expect(h.events).toEqual(['allocation'])
    life.stop()
  })

  it('a failed background refresh loses the allocation with the server’s error code', async () => {
    const h = fakeHost(async () => {
      throw new TurnError('TURN_ALLOCATION_MISMATCH', 'gone', { errorCode: 437 })
    })
    const life = new AllocationLifecycle(h.host, {})
    life.setLifetime(withLifetime(120))
    await vi.advanceTimersByTimeAsync(60_000)
    expect(h.lost).toHaveLength(1)
    expect(h.lost[0]).toMatchObject({ code: 'TURN_ALLOCATION_LOST', errorCode: 437 })
    life.stop()
  })

  it('refreshes permissions on their interval, and arms nothing once stopped', async () => {
    const h = fakeHost(async () => withLifetime(600))
    const life = new AllocationLifecycle(h.host, { permissionRefreshMs: 1000 })
    life.permit('192.0.2.1')
    await vi.advanceTimersByTimeAsync(1000)
    expect(h.calls).toEqual([StunMethod.CreatePermission])
    expect(h.events).toEqual(['permission'])
    life.stop()
    expect(life.signal.aborted).toBe(true)
    life.permit('192.0.2.2')
    life.setLifetime(withLifetime(2))
    await vi.advanceTimersByTimeAsync(10_000)
    expect(h.calls).toHaveLength(1)
  })
})
