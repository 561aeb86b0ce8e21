import { describe, expect, it } from 'vitest'
import { ByteQueue } from '../src/stream/byte-queue.js'
import { CongestionWindow } from '../src/stream/congestion-window.js'
import { DeliveryRate, type DeliveryStamp } from '../src/stream/delivery.js'
import { Pacer } from '../src/stream/pacer.js'
import { type AckPacket, PacketType } from '../src/stream/packet.js'
import { Sender } from '../src/stream/sender.js'

function stamp(): DeliveryStamp {
  return { delivered: 0, deliveredAt: 0, firstSentAt: 0, sentAt: 0 }
}

/**
 * `rounds` round trips of `perRtt` segments each, sent evenly over one RTT of `rttMs` and each
 * acknowledged one RTT after it left (a path that delivers perRtt / rttMs without a queue).
 */
function steady(d: DeliveryRate, perRtt: number, rttMs: number, rounds: number): void {
  const inFlight: Array<{ s: DeliveryStamp; ackAt: number }> = []
  let now = 0
  const step = rttMs / perRtt
  for (let i = 0; i < perRtt * rounds; i++) {
    now = i * step
    while (inFlight.length && (inFlight[0]?.ackAt as number) <= now) {
      const f = inFlight.shift() as { s: DeliveryStamp; ackAt: number }
      d.onDelivered(f.s, f.ackAt)
      d.onRtt(rttMs, f.ackAt)
    }
    const s = stamp()
    d.stamp(s, now)
    inFlight.push({ s, ackAt: now + rttMs })
  }
}

describe('DeliveryRate', () => {
  it('measures a steady path: rate × min RTT ≈ the segments per round trip', () => {
    const d = new DeliveryRate()
    steady(d, 500, 100, 6)
    expect(d.minRtt).toBe(100)
    expect(d.bdp).toBeGreaterThan(450)
    expect(d.bdp).toBeLessThan(550)
  })

  it('knows nothing before the first ack', () => {
    expect(new DeliveryRate().bdp).toBe(0)
  })
})

describe('CongestionWindow loss reaction', () => {
  it('a loss while the window is no larger than what the path delivers keeps the window', () => {
    const cc = new CongestionWindow(500, 8192)
    steady(cc.delivery, 500, 100, 6)
    cc.onLossEvent()
    expect(cc.cwnd).toBeGreaterThan(450) // CUBIC alone: 350
    expect(cc.lossEvents).toBe(1)
  })

  it('a loss with a queue behind the window still cuts it by 0.3', () => {
    const cc = new CongestionWindow(16, 8192)
    for (let i = 0; i < 1000; i++) cc.grow(1, i, 100) // slow start to ~1016, no rate measured
    steady(cc.delivery, 300, 100, 6) // the path delivers 300 per RTT: 700 are queued
    const before = cc.cwnd
    cc.onLossEvent()
    expect(cc.cwnd).toBeCloseTo(before * 0.7, 0)
  })

  it('a timeout collapses the window and remembers the floor as the threshold', () => {
    const cc = new CongestionWindow(500, 8192)
    steady(cc.delivery, 500, 100, 6)
    cc.onTimeout(true)
    expect(cc.cwnd).toBe(4)
    expect(cc.ssthresh).toBeGreaterThan(450)
  })
})

describe('ByteQueue', () => {
  it('cuts views where a chunk holds the segment and copies across chunks, in order', () => {
    const q = new ByteQueue()
    const a = Buffer.from('abcdef')
    q.push(a)
    q.push(Buffer.alloc(0))
    q.push(Buffer.from('ghij'))
    const first = q.take(4)
    expect(first.toString()).toBe('abcd')
    expect(first.buffer).toBe(a.buffer) // a view, not a copy
    expect(q.take(4).toString()).toBe('efgh')
    expect(q.bytes).toBe(2)
    expect(q.take(2).toString()).toBe('ij')
    expect(q.bytes).toBe(0)
  })

  it('keeps order over many chunks (the consumed prefix is dropped in batches)', () => {
    const q = new ByteQueue()
    for (let i = 0; i < 5000; i++) q.push(Buffer.from([i & 0xff]))
    const out = q.take(5000)
    for (let i = 0; i < 5000; i++) expect(out[i]).toBe(i & 0xff)
  })
})

describe('Pacer', () => {
  it('holds at most burstMs of the rate, never fewer than the minimum burst', () => {
    const p = new Pacer(5, 16)
    p.refill(0, 1000, 100, false) // 12.5 segments/ms → 62.5 per 5 ms
    expect(p.tokens).toBeCloseTo(62.5)
    for (let i = 0; i < 62; i++) p.take()
    p.refill(1, 1000, 100, false)
    expect(p.tokens).toBeCloseTo(13)
    p.refill(1000, 10, 100, false) // slow path: the minimum burst
    expect(p.tokens).toBe(16)
  })

  it('does not pace without an RTT sample or below a millisecond', () => {
    const p = new Pacer(5, 16)
    p.refill(0, 1000, undefined, false)
    expect(p.tokens).toBe(Number.POSITIVE_INFINITY)
    p.refill(0, 1000, 0.2, false)
    expect(p.tokens).toBe(Number.POSITIVE_INFINITY)
  })
})

describe('Sender SACK bookkeeping', () => {
  const ack = (cumAck: number, ranges: Array<[number, number]>): AckPacket => ({
    type: PacketType.Ack,
    conv: 1,
    ts: 0,
    cumAck,
    window: 100,
    echoTs: undefined,
    probe: false,
    ranges: ranges.map(([start, end]) => ({ start, end })),
  })

  it('ranges repeated and extended by later ACKs count each segment once, and only once', () => {
    const s = new Sender({ segmentSize: 100 })
    s.enqueue(Buffer.alloc(10_000))
    expect(s.poll(0).out).toHaveLength(16) // the initial window
    s.onAck(ack(0, [[1, 5]]), 10)
    s.onAck(ack(0, [[1, 9]]), 20) // 1–4 again, 5–8 new
    s.onAck(ack(0, [[1, 9]]), 30) // nothing new
    expect(s.cwnd).toBe(24) // 16 + 8 sacked
    // Past an RTT (the 500 ms initial RTO stands in for it) but before the timer: segment 0 is
    // resent (8 later ones sacked), the loss cuts the window to 0.7 × 24, which the 8 segments
    // still in flight leave room in for 8 new ones.
    const { out } = s.poll(510)
    expect(out[0]?.seq).toBe(0)
    expect(s.cwnd).toBeCloseTo(16.8)
    expect(out).toHaveLength(1 + 8)
    expect(s.retransmits).toBe(1)
    // The hole filled: the cumulative ack passes everything, sacked or not.
    s.onAck(ack(24, []), 600)
    expect(s.inflightCount).toBe(0)
  })
})
