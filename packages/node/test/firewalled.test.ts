import type { AddressInterface, PeerAddress, RawConnection, Strategy } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { firewalledOnly } from '../src/candidates.js'
import {
  defaultHeadStartMs,
  firewalledHeadStartMs,
  headStartsFor,
  runPipeline,
} from '../src/pipeline.js'
import { cone, firewall, iface, open, peer } from './peer-fixtures.js'

const fw6 = (m: string, ip4: AddressInterface[] = []) =>
  peer(m, ip4, [iface(`2001:db8:${m === 'a' ? 1 : 2}::2`, firewall)])

describe('firewalled peers: the punch does not wait out direct and reverse', () => {
  it('tells two firewalled peers from a pair where one is open or on the same LAN', () => {
    expect(firewalledOnly(fw6('a'), fw6('b'))).toBe(true)
    // Dual-stack behind an IPv4 cone and an IPv6 firewall: still firewalled only.
    expect(firewalledOnly(fw6('a', [iface('198.18.0.30', cone)]), fw6('b'))).toBe(true)
    // Either side open in a family the other has: a direct dial or a dial-back works.
    expect(firewalledOnly(fw6('a'), peer('b', [], [iface('2001:db8:2::2', open)]))).toBe(false)
    expect(firewalledOnly(peer('a', [], [iface('2001:db8:1::2', open)]), fw6('b'))).toBe(false)
    // Open only in a family we lack does not count.
    expect(firewalledOnly(fw6('a'), fw6('b', [iface('198.18.0.40', open)]))).toBe(true)
    // Same machine: loopback is dialled first.
    expect(firewalledOnly(fw6('a'), fw6('a'))).toBe(false)
  })

  it('shortens only the head starts of direct and reverse, and only by default', () => {
    expect(headStartsFor(fw6('a'), fw6('b'))).toEqual({
      ...defaultHeadStartMs,
      ...firewalledHeadStartMs,
    })
    expect(headStartsFor(fw6('a'), peer('b', [], [iface('2001:db8:2::2', open)]))).toEqual(
      defaultHeadStartMs,
    )
    // A caller's own head starts win.
    expect(headStartsFor(fw6('a'), fw6('b'), { reverse: 1_500 }).reverse).toBe(1_500)
    expect(firewalledHeadStartMs.direct).toBeLessThan(defaultHeadStartMs.direct as number)
    expect(firewalledHeadStartMs.reverse).toBeLessThan(defaultHeadStartMs.reverse as number)
  })

  /** direct and reverse hang (a dropping firewall); punch connects at once. */
  async function punchStart(local: PeerAddress, remote: PeerAddress): Promise<number> {
    const strategy = (name: string): Strategy =>
      ({ name, canTry: () => true, connect: () => new Promise(() => {}) }) as unknown as Strategy
    const raw = { stream: { destroy() {} }, relayed: false } as unknown as RawConnection
    const ac = new AbortController()
    const { report } = await runPipeline({
      local,
      remote,
      strategies: [strategy('direct'), strategy('reverse'), strategy('punch')],
      attempt: (s, signal) =>
        s.name === 'punch'
          ? Promise.resolve(raw)
          : new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
            ),
      secure: async () => ({ close() {} }) as never,
      signal: ac.signal,
    })
    const won = report.stages.find((s) => s.strategy === 'punch')
    expect(report.winner).toBe('punch')
    return won?.startedMs ?? Number.NaN
  }

  it('starts the punch beside hanging direct and reverse stages (real pipeline)', async () => {
    // Two firewalls: the punch starts after 150 + 50 ms of head starts, far below the 1.8 s
    // the defaults cost (a loaded machine only delays timers, so this is an upper bound with
    // 1.6 s of slack). One open side: the defaults, at least 1.8 s (a lower bound).
    const fast = await punchStart(fw6('a'), fw6('b'))
    expect(fast).toBeLessThan(
      (defaultHeadStartMs.direct as number) + (defaultHeadStartMs.reverse as number),
    )
    const slow = await punchStart(fw6('a'), peer('b', [], [iface('2001:db8:2::2', open)]))
    expect(slow).toBeGreaterThanOrEqual(
      (defaultHeadStartMs.direct as number) + (defaultHeadStartMs.reverse as number) - 5,
    )
  }, 20_000)
})
