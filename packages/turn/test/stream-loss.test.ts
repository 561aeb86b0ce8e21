import { describe, expect, it } from 'vitest'
import { CongestionWindow, LOSS_THRESHOLD } from '../src/stream/congestion-window.js'
import type { DeliveryStamp } from '../src/stream/delivery.js'

interface Flight {
  readonly seq: number
  readonly s: DeliveryStamp
  readonly ackAt: number
}

interface PathOptions {
  /** Every `lossEvery`-th segment is lost (0: none). */
  readonly lossEvery: number
  /** Round trips to run. */
  readonly rounds: number
  /** RTT of the round trips from `inflateFrom` on (ms; default the base 100 ms). */
  readonly inflatedRttMs?: number
  readonly inflateFrom?: number
}

/**
 * Drives `cc` as the sender does, over a path with no queue of its own: it keeps the window in
 * flight, every segment is acked (or found lost) one RTT after it left; a loss may cut the
 * window only once per window of data, and the window grows outside that recovery. Returns the
 * window at the end of each round trip.
 */
function drive(cc: CongestionWindow, opts: PathOptions): number[] {
  const baseRtt = 100
  const stepMs = 0.1
  const flight: Flight[] = []
  const windows: number[] = []
  let seq = 0
  let recoverUntil = -1
  for (let step = 0; step * stepMs < opts.rounds * baseRtt; step++) {
    const now = step * stepMs
    const round = Math.floor(now / baseRtt)
    const rtt =
      opts.inflatedRttMs !== undefined && round >= (opts.inflateFrom ?? 0)
        ? opts.inflatedRttMs
        : baseRtt
    while (flight.length && (flight[0] as Flight).ackAt <= now) {
      const f = flight.shift() as Flight
      if (opts.lossEvery > 0 && f.seq % opts.lossEvery === opts.lossEvery - 1) {
        if (cc.onLoss(1, f.seq >= recoverUntil)) recoverUntil = seq
        continue
      }
      cc.onRtt(rtt, now, f.seq, seq)
      cc.delivery.onDelivered(f.s, now)
      if (f.seq >= recoverUntil) cc.grow(1, now, rtt)
    }
    // Paced: at most the window per base RTT, spread over it.
    const budget = Math.max(1, Math.round((cc.cwnd * stepMs) / baseRtt))
    for (let i = 0; i < budget && flight.length < Math.floor(cc.cwnd); i++) {
      const s: DeliveryStamp = { delivered: 0, deliveredAt: 0, firstSentAt: 0, sentAt: 0 }
      cc.delivery.stamp(s, now)
      flight.push({ seq: seq++, s, ackAt: now + rtt })
    }
    if ((step + 1) % Math.round(baseRtt / stepMs) === 0) windows.push(cc.cwnd)
  }
  return windows
}

/** Congestion avoidance at `cwnd` (one loss with no rate measured yet: a plain 0.7 cut). */
function avoiding(cwnd: number): CongestionWindow {
  const cc = new CongestionWindow(cwnd / 0.7, 1_000_000)
  cc.onLossEvent()
  expect(cc.inSlowStart).toBe(false)
  return cc
}

describe('CongestionWindow: sparse loss vs congestion', () => {
  it('1 loss in 1,000 segments (0.1 %) per round: no cut, the window keeps growing', () => {
    const cc = avoiding(1000)
    const windows = drive(cc, { lossEvery: 1000, rounds: 30 })
    expect(cc.sparseLosses).toBeGreaterThan(20)
    expect(cc.lossEvents).toBe(1) // the set-up's cut only
    for (let i = 1; i < windows.length; i++)
      expect(windows[i] as number).toBeGreaterThanOrEqual(windows[i - 1] as number)
    expect(windows.at(-1) as number).toBeGreaterThan(1000 + 25)
  })

  it('1 loss in 1,000 in slow start: slow start goes on (it used to end at the first loss)', () => {
    const cc = new CongestionWindow(16, 1_000_000)
    drive(cc, { lossEvery: 1000, rounds: 10 })
    expect(cc.lossEvents).toBe(0)
    expect(cc.inSlowStart).toBe(true)
    expect(cc.cwnd).toBeGreaterThan(4000)
  })

  it('10 % loss per round: the window is cut', () => {
    const cc = avoiding(1000)
    const windows = drive(cc, { lossEvery: 10, rounds: 30 })
    expect(cc.lossEvents).toBeGreaterThan(5)
    // The first losses show one RTT in; after them the window stays below where it started.
    expect(Math.max(...windows.slice(2))).toBeLessThan(1000)
    expect(windows.at(-1) as number).toBeLessThan(800)
    const slow = new CongestionWindow(16, 1_000_000)
    drive(slow, { lossEvery: 10, rounds: 10 })
    expect(slow.lossEvents).toBeGreaterThan(0)
    expect(slow.inSlowStart).toBe(false)
  })

  it('the threshold sits between: 1 % is sparse, 4 % cuts', () => {
    expect(LOSS_THRESHOLD).toBeGreaterThan(0.01)
    expect(LOSS_THRESHOLD).toBeLessThan(0.04)
    const one = avoiding(1000)
    drive(one, { lossEvery: 100, rounds: 20 })
    expect(one.lossEvents).toBe(1)
    const four = avoiding(1000)
    drive(four, { lossEvery: 25, rounds: 20 })
    expect(four.lossEvents).toBeGreaterThan(1)
  })

  it('a sparse loss while the RTT shows a standing queue cuts the window', () => {
    const cc = avoiding(1000)
    // Round trips of 100 ms, then of 150 ms: half a base RTT of queue.
    drive(cc, { lossEvery: 1000, rounds: 30, inflatedRttMs: 150, inflateFrom: 5 })
    expect(cc.lossEvents).toBeGreaterThan(1)
    const flat = avoiding(1000)
    // The same jitter below the queue bar (a quarter of the minimum RTT) is no queue.
    drive(flat, { lossEvery: 1000, rounds: 30, inflatedRttMs: 115, inflateFrom: 5 })
    expect(flat.lossEvents).toBe(1)
  })
})

/**
 * Drives `cc` through a bottleneck of `perMs` segments per ms with an unbounded queue in front
 * of it (no loss ever: only the RTT tells), base RTT 100 ms. Returns the largest window seen
 * after `settleRounds` round trips.
 */
function bottleneck(cc: CongestionWindow, perMs: number, rounds: number, settleRounds: number) {
  const baseRtt = 100
  const stepMs = 0.1
  const queue: DeliveryStamp[] = []
  const acks: { s: DeliveryStamp; at: number; seq: number }[] = []
  let inFlight = 0
  let seq = 0
  let credit = 0
  let largest = 0
  for (let step = 0; step * stepMs < rounds * baseRtt; step++) {
    const now = step * stepMs
    while (acks.length && (acks[0] as { at: number }).at <= now) {
      const a = acks.shift() as { s: DeliveryStamp; at: number; seq: number }
      inFlight--
      cc.onRtt(now - a.s.sentAt, now, a.seq, seq)
      cc.delivery.onDelivered(a.s, now)
      cc.grow(1, now, now - a.s.sentAt)
    }
    credit += perMs * stepMs
    while (credit >= 1 && queue.length) {
      credit--
      const s = queue.shift() as DeliveryStamp
      acks.push({ s, at: now + baseRtt, seq: seq })
    }
    if (!queue.length) credit = Math.min(credit, 1)
    while (inFlight < Math.floor(cc.cwnd)) {
      const s: DeliveryStamp = { delivered: 0, deliveredAt: 0, firstSentAt: 0, sentAt: 0 }
      cc.delivery.stamp(s, now)
      queue.push(s)
      inFlight++
      seq++
    }
    if (now >= settleRounds * baseRtt) largest = Math.max(largest, cc.cwnd)
  }
  return largest
}

describe('CongestionWindow: bounded by the bandwidth-delay product', () => {
  it('behind a bottleneck that never drops, the window stays within twice its product', () => {
    // 5 segments per ms for 100 ms: a product of 500 segments.
    const cc = new CongestionWindow(16, 1_000_000)
    const largest = bottleneck(cc, 5, 80, 20)
    expect(cc.lossEvents).toBe(0)
    expect(largest).toBeGreaterThan(500) // the path stays full
    expect(largest).toBeLessThanOrEqual(2 * 500 * 1.1)
  })
})
