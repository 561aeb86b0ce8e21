import type { InboundSignal } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { ReorderBuffer } from '../src/reorder.js'

const msg = (from: string, n: number): InboundSignal => ({
  from,
  message: { type: 'app/n', body: n },
  receivedAt: 0,
})

describe('ReorderBuffer', () => {
  it('delivers in sequence order, holding a message that overtook a gap', () => {
    const out: number[] = []
    const r = new ReorderBuffer(1_000, (m) => out.push(m.message.body as number))
    r.push('s1', 1, msg('a', 1))
    r.push('s1', 2, msg('a', 2))
    expect(out).toEqual([])
    r.push('s1', 0, msg('a', 0))
    expect(out).toEqual([0, 1, 2])
    r.push('s1', 3, msg('a', 3))
    expect(out).toEqual([0, 1, 2, 3])
    r.clear()
  })

  it('gives up on a gap after holdMs, and still delivers the late message', async () => {
    const out: number[] = []
    const r = new ReorderBuffer(50, (m) => out.push(m.message.body as number))
    r.push('s1', 2, msg('a', 2))
    r.push('s1', 3, msg('a', 3))
    await new Promise((res) => setTimeout(res, 80))
    expect(out).toEqual([2, 3])
    r.push('s1', 1, msg('a', 1)) // late: out of order, but not lost
    r.push('s1', 4, msg('a', 4))
    expect(out).toEqual([2, 3, 1, 4])
    r.clear()
  })

  it('keeps senders apart and restarts with a new stream id', () => {
    const out: string[] = []
    const r = new ReorderBuffer(1_000, (m) => out.push(`${m.from}${m.message.body}`))
    r.push('s1', 0, msg('a', 0))
    r.push('t1', 0, msg('b', 0))
    r.push('s1', 1, msg('a', 1))
    r.push('s2', 0, msg('a', 9)) // sender a restarted
    expect(out).toEqual(['a0', 'b0', 'a1', 'a9'])
    r.clear()
  })

  it('is bounded: too many held messages are flushed in order', () => {
    const out: number[] = []
    const r = new ReorderBuffer(60_000, (m) => out.push(m.message.body as number), 10, 3)
    for (const n of [5, 3, 4, 2]) r.push('s', n, msg('a', n))
    expect(out).toEqual([2, 3, 4, 5])
    r.clear()
  })
})
