import { describe, expect, it } from 'vitest'
import {
  chooseTcpRelay,
  FIXED_TCP_WINDOW_BYTES,
  fixedTcpWindow,
  UDP_RELAY_BYTES_PER_S,
} from '../src/relay-choice.js'

describe('chooseTcpRelay', () => {
  const coturn = "Coturn-4.6.1 'Gorst'"
  /** The round trip at which a fixed window carries exactly what the UDP relay does (ms). */
  const breakEvenMs = (FIXED_TCP_WINDOW_BYTES / UDP_RELAY_BYTES_PER_S) * 1000

  it('recognizes coturn by its SOFTWARE, and nothing else', () => {
    expect(fixedTcpWindow(coturn)).toBe(64 * 1024)
    expect(fixedTcpWindow('coturn/4.5')).toBe(64 * 1024)
    expect(fixedTcpWindow(undefined)).toBeUndefined()
    expect(fixedTcpWindow('p2pd turn')).toBeUndefined()
    expect(fixedTcpWindow('notcoturn')).toBeUndefined()
  })

  it('keeps coturn over TCP nearby and leaves it for UDP far away (64 KiB per round trip)', () => {
    expect(breakEvenMs).toBeGreaterThan(4)
    expect(breakEvenMs).toBeLessThan(6)
    expect(chooseTcpRelay({ software: coturn, rttMs: 0.2 }).tcp).toBe(true)
    expect(chooseTcpRelay({ software: coturn, rttMs: breakEvenMs * 0.9 }).tcp).toBe(true)
    const far = chooseTcpRelay({ software: coturn, rttMs: 50 })
    expect(far.tcp).toBe(false)
    // 64 KiB per 50 ms ≈ 10.5 Mbit/s: the figure the log gives.
    expect(far.reason).toMatch(/~10 Mbit\/s per leg/)
    expect(chooseTcpRelay({ software: coturn, rttMs: breakEvenMs * 1.1 }).tcp).toBe(false)
  })

  it('keeps TCP on servers not known to be capped, or when the round trip is unknown', () => {
    expect(chooseTcpRelay({ software: undefined, rttMs: 200 }).tcp).toBe(true)
    expect(chooseTcpRelay({ software: 'p2pd', rttMs: 200 }).tcp).toBe(true)
    expect(chooseTcpRelay({ software: coturn, rttMs: undefined }).tcp).toBe(true)
  })
})
