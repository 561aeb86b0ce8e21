import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  answerLead,
  firstSynAt,
  jitter,
  measuredOneWay,
  meetingLead,
  meetingTime,
  oneWayDelay,
  punchWindow,
  relativeUncertainty,
  retryInterval,
  scheduleDefaults,
  signalingRtt,
  staggerOffsets,
  TripEstimate,
} from '../src/index.js'

describe('schedule maths', () => {
  it('measures the signaling RTT on the monotonic clock, minus the answerer’s hold', () => {
    expect(signalingRtt(1000, 1350, 250)).toBe(100)
    expect(signalingRtt(1000, 1050, 80)).toBe(0) // never negative
    expect(signalingRtt(0, 120, -5)).toBe(120) // a negative hold is ignored
    expect(oneWayDelay(100)).toBe(50)
  })

  it('adds both clocks’ uncertainty, capped; none on one machine', () => {
    expect(relativeUncertainty(3, 7)).toBe(10)
    expect(relativeUncertainty(1000, 1000)).toBe(scheduleDefaults.maxUncertaintyMs)
    expect(relativeUncertainty(30, 40, true)).toBe(0)
  })

  it('meets one RTT + the clocks’ disagreement + arming after now (no fixed +6 s)', () => {
    const at = meetingTime({
      nowMs: 1_700_000_000_000,
      rttMs: 120,
      localUncertaintyMs: 5,
      remoteUncertaintyMs: 15,
    })
    expect(at).toBe(1_700_000_000_000 + 120 + 20 + scheduleDefaults.armMs)
    // Same machine: the uncertainty does not count.
    expect(
      meetingLead({
        rttMs: 2,
        localUncertaintyMs: 1000,
        remoteUncertaintyMs: 1000,
        sameClock: true,
      }),
    ).toBe(scheduleDefaults.minLeadMs)
  })

  it('lead is monotonic in RTT and uncertainty, and never below the floor', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        fc.double({ min: 0, max: 1_000, noNaN: true }),
        (rtt, ul, ur, more) => {
          const base = { rttMs: rtt, localUncertaintyMs: ul, remoteUncertaintyMs: ur }
          const lead = meetingLead(base)
          expect(lead).toBeGreaterThanOrEqual(scheduleDefaults.minLeadMs)
          expect(meetingLead({ ...base, rttMs: rtt + more })).toBeGreaterThanOrEqual(lead)
          expect(meetingLead({ ...base, localUncertaintyMs: ul + more })).toBeGreaterThanOrEqual(
            lead,
          )
          expect(lead).toBeLessThanOrEqual(
            Math.max(scheduleDefaults.minLeadMs, rtt + scheduleDefaults.maxUncertaintyMs + 20),
          )
        },
      ),
    )
  })

  it('widens the window by twice the clocks’ disagreement', () => {
    expect(punchWindow(10, 20)).toBe(scheduleDefaults.baseWindowMs + 60)
    expect(punchWindow(10, 20, true)).toBe(scheduleDefaults.baseWindowMs)
    expect(punchWindow(0, 0, false, 500)).toBe(500)
  })

  it('jitters retries within [0.5, 1.5] × the mean', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 1000, noNaN: true }), (mean) => {
        const j = jitter(mean)
        expect(j).toBeGreaterThanOrEqual(mean * 0.5)
        expect(j).toBeLessThanOrEqual(mean * 1.5)
      }),
    )
    expect(jitter(20, () => 0)).toBe(10)
    expect(jitter(20, () => 0.999999)).toBeCloseTo(30, 3)
    // Not a fixed period: many draws spread over the interval.
    const draws = new Set(Array.from({ length: 50 }, () => Math.round(jitter(20))))
    expect(draws.size).toBeGreaterThan(5)
  })

  it('paces retries by the one-way delay, bounded', () => {
    expect(retryInterval(0)).toBe(scheduleDefaults.minRetryMs)
    expect(retryInterval(25)).toBe(25)
    expect(retryInterval(400)).toBe(scheduleDefaults.maxRetryMs)
  })

  it('answer-and-go: the answer reaches the offerer before the instant, whatever the clock errors', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2_000, noNaN: true }), // true one-way signaling delay
        fc.double({ min: 0, max: 50, noNaN: true }), // answerer's uncertainty
        fc.double({ min: 0, max: 50, noNaN: true }), // offerer's uncertainty
        fc.double({ min: -1, max: 1, noNaN: true }), // answerer's clock error, × its bound
        fc.double({ min: -1, max: 1, noNaN: true }), // offerer's clock error, × its bound
        (owd, ub, ua, kb, ka) => {
          const [eb, ea] = [kb * ub, ka * ua]
          const t = 1_700_000_000_000 // true time the offer leaves
          const measured = measuredOneWay(t + owd + eb, t + ea)
          expect(measured).toBeGreaterThanOrEqual(0)
          const sendAt = t + owd + 5 // the answerer's STUN hold, then the answer leaves
          const meetAt = sendAt + eb + answerLead(measured, relativeUncertainty(ub, ua))
          // The offerer reads its clock when the answer lands (same delay back).
          const seenAt = sendAt + owd + ea
          expect(meetAt - seenAt).toBeGreaterThanOrEqual(scheduleDefaults.armMs - 1e-6)
        },
      ),
    )
    expect(answerLead(0, 0)).toBe(scheduleDefaults.minLeadMs)
    expect(answerLead(40, 5)).toBe(40 + 10 + scheduleDefaults.armMs)
  })

  it('answer-and-go: the lead covers the measured answer trip when it outgrows the offer’s', () => {
    const arm = scheduleDefaults.armMs
    // No sample, or a trip shorter than the offer's one-way delay: the one-way delay leads.
    expect(answerLead(100, 20, arm, undefined)).toBe(100 + 40 + arm)
    expect(answerLead(100, 20, arm, 60)).toBe(100 + 40 + arm)
    // Answers measured slower than the offer came: their trip leads.
    expect(answerLead(100, 20, arm, 300)).toBe(300 + 40 + arm)
    // A stalled publish is capped, so it cannot stall every later punch.
    expect(answerLead(0, 0, arm, 1e9)).toBe(scheduleDefaults.maxAnswerTripMs + arm)
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2_000, noNaN: true }),
        fc.double({ min: 0, max: 200, noNaN: true }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        (oneWay, u, trip) => {
          const lead = answerLead(oneWay, u, arm, trip)
          expect(lead).toBeGreaterThanOrEqual(answerLead(oneWay, u, arm))
          expect(lead).toBeGreaterThanOrEqual(Math.min(trip, scheduleDefaults.maxAnswerTripMs))
        },
      ),
    )
  })

  it('estimates the answer trip from measured publishes: mean plus twice the deviation', () => {
    const t = new TripEstimate()
    expect(t.ms).toBeUndefined()
    t.add(-5)
    t.add(Number.NaN)
    expect(t.ms).toBeUndefined()
    t.add(100)
    expect(t.ms).toBe(150) // first sample: its deviation taken as a quarter of it
    for (let i = 0; i < 50; i++) t.add(100)
    // Steady answers: the estimate settles on them.
    expect(t.ms).toBeGreaterThanOrEqual(100)
    expect(t.ms).toBeLessThan(105)
    // One slow answer (a loaded machine) raises the next lead at once, beyond its mean share.
    t.add(400)
    expect(t.ms).toBeGreaterThan(250)
    // A run of fast ones brings it back down.
    for (let i = 0; i < 50; i++) t.add(50)
    expect(t.ms).toBeLessThan(60)
    // Capped.
    t.add(1e9)
    expect(t.ms).toBeLessThanOrEqual(scheduleDefaults.maxAnswerTripMs)
  })

  it('staggers socket pairs over one one-way delay', () => {
    expect(staggerOffsets(1, 50)).toEqual([0])
    expect(staggerOffsets(2, 50)).toEqual([0, 25])
    expect(staggerOffsets(4, 40)).toEqual([0, 10, 20, 30])
    expect(staggerOffsets(3, 0)).toEqual([0, 2, 4])
    expect(staggerOffsets(0, 10)).toEqual([])
  })

  it('first SYN: at once toward a NAT that drops refused SYNs, else at the instant', () => {
    expect(firstSynAt(1_000, 900, 'drop')).toBe(900)
    expect(firstSynAt(1_000, 900, 'rst')).toBe(1_000)
    expect(firstSynAt(1_000, 900, 'unknown')).toBe(1_000)
    expect(firstSynAt(1_000, 900, undefined)).toBe(1_000)
    // Never later than the instant.
    expect(firstSynAt(1_000, 1_200, 'drop')).toBe(1_000)
  })
})
