import { DeltaType, NatType, type PeerAddress } from '@p2pd/interface'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  chooseAcceptor,
  dialPairs,
  isPrivateIp,
  type NatRecord,
  opensFilterFor,
  predictCandidates,
  punch,
  punchMode,
  punchVerdict,
  sprayRole,
} from '../src/index.js'
import { SWEEP_SPACING_MS, vernierShifts } from '../src/plan.js'

const nat = (type: NatRecord['type'], delta: NatRecord['delta']['type'] = 2, value = 0) => ({
  type,
  delta: { type: delta, value },
})
const open = nat(NatType.OpenInternet, DeltaType.NotApplicable)
const full = nat(NatType.FullCone)
const restricted = nat(NatType.RestrictedCone)
const portRestricted = nat(NatType.PortRestrictedCone)
const seq1 = nat(NatType.Symmetric, DeltaType.Independent, 1)
const random = nat(NatType.Symmetric, DeltaType.Random)

const address = (over: Partial<PeerAddress> & { ext?: string; nic?: string; nat?: NatRecord }) =>
  ({
    signal: [0],
    ip4: [
      {
        netifaceIndex: 0,
        ifIndex: 0,
        ext: over.ext ?? '198.18.0.30',
        nic: over.nic ?? '10.0.0.2',
        port: 4000,
        nat: over.nat ?? portRestricted,
      },
    ],
    ip6: [],
    nodeId: over.nodeId ?? `02${'11'.repeat(32)}`,
    legacy: false,
    machineId: over.machineId ?? 'a'.repeat(64),
  }) as PeerAddress

describe('plan', () => {
  it('gives a fast verdict: random×random is not punchable, random×cone is', () => {
    expect(punchVerdict(random, random)).toMatch(/not punchable.*random/)
    expect(punchVerdict(random, portRestricted)).toBe(true) // birthday spray
    expect(punchVerdict(portRestricted, random)).toBe(true)
    expect(punchVerdict(random, restricted)).toBe(true) // the restricted cone opens and listens
    expect(punchVerdict(restricted, random)).toBe(true)
    expect(punchVerdict(random, seq1)).toMatch(/not punchable/)
    // The spray budget decides: an infeasible one is a verdict, not a failed punch.
    expect(punchVerdict(random, portRestricted, () => 'not punchable: budget')).toBe(
      'not punchable: budget',
    )
    // Two sequential NATs: each side predicts its own next mappings, the other aims there.
    expect(punchVerdict(seq1, seq1)).toBe(true)
    expect(punchVerdict(random, full)).toBe(true) // the full cone listens
    expect(punchVerdict(seq1, portRestricted)).toBe(true)
    expect(punchVerdict(restricted, portRestricted)).toBe(true)
    expect(punchVerdict(nat(NatType.Blocked), open)).toMatch(/blocks/)
  })

  it('lets the side that accepts unsolicited SYNs listen', () => {
    expect(chooseAcceptor('remote', portRestricted, full)).toBe('answerer')
    expect(chooseAcceptor('remote', open, portRestricted)).toBe('offerer')
    expect(chooseAcceptor('remote', full, full)).toBe('answerer')
    expect(chooseAcceptor('remote', portRestricted, seq1)).toBe('none')
    // A restricted cone facing a random NAT opens its filter to that IP and listens.
    expect(chooseAcceptor('remote', random, restricted)).toBe('answerer')
    expect(chooseAcceptor('remote', restricted, random)).toBe('offerer')
    // A port-restricted cone cannot: both dial (the spray).
    expect(chooseAcceptor('remote', random, portRestricted)).toBe('none')
    expect(opensFilterFor(restricted, random)).toBe(true)
    expect(opensFilterFor(restricted, seq1)).toBe(false)
    expect(opensFilterFor(portRestricted, random)).toBe(false)
    expect(sprayRole(random, portRestricted)).toBe('hard')
    expect(sprayRole(portRestricted, random)).toBe('easy')
    expect(sprayRole(random, restricted)).toBeUndefined()
    expect(sprayRole(portRestricted, seq1)).toBeUndefined()
    expect(sprayRole(random, random)).toBeUndefined()
    expect(chooseAcceptor('self', portRestricted, portRestricted)).toBe('answerer')
    expect(chooseAcceptor('lan', portRestricted, portRestricted)).toBe('answerer')
  })

  it('tells same machine, same LAN (safely) and remote apart', () => {
    const a = address({ machineId: 'a'.repeat(64) })
    expect(punchMode(a, address({ machineId: 'a'.repeat(64) }))).toBe('self')
    expect(punchMode(a, address({ machineId: 'b'.repeat(64), nic: '10.0.0.3' }))).toBe('lan')
    // Same external IP but a public NIC address: not proof of a LAN.
    expect(
      punchMode(
        address({ machineId: 'a'.repeat(64), nic: '198.18.0.30' }),
        address({ machineId: 'b'.repeat(64), nic: '198.18.0.30' }),
      ),
    ).toBe('remote')
    expect(punchMode(a, address({ machineId: 'b'.repeat(64), ext: '198.18.0.31' }))).toBe('remote')
    expect(isPrivateIp('192.168.1.2')).toBe(true)
    expect(isPrivateIp('100.64.0.1')).toBe(true)
    expect(isPrivateIp('8.8.8.8')).toBe(false)
    expect(isPrivateIp('fd00::1')).toBe(true)
  })

  it('predicts sequential ports from the last held mapping; nothing for cones and random', () => {
    const held = [{ local: 40000, ext: { host: '198.18.0.31', port: 50007 } }]
    expect(predictCandidates(seq1, held, 4)).toEqual([50008, 50009, 50010, 50011])
    expect(predictCandidates(nat(NatType.Symmetric, DeltaType.Independent, -2), held, 2)).toEqual([
      50005, 50003,
    ])
    expect(predictCandidates(portRestricted, held, 4)).toEqual([])
    expect(predictCandidates(random, held, 4)).toEqual([])
  })

  it('dials every predicted port of a sequential peer; spends at most that many attempts itself', () => {
    const cone = {
      nat: portRestricted,
      locals: [41000, 41001],
      mappings: [
        { host: '198.18.0.30', port: 41000 },
        { host: '198.18.0.30', port: 41001 },
      ],
      candidatePorts: [],
    }
    const sym = {
      nat: seq1,
      locals: [42000],
      mappings: [{ host: '198.18.0.31', port: 50007 }],
      candidatePorts: [50008, 50009, 50010],
    }
    const fromCone = dialPairs(cone, sym, Number.POSITIVE_INFINITY)
    expect(fromCone.map((p) => [p.localPort, p.remote.port])).toEqual([
      [41000, 50008],
      [41000, 50009],
      [41000, 50010],
    ])
    const fromSym = dialPairs(sym, cone, Number.POSITIVE_INFINITY)
    expect(fromSym).toEqual([
      { localPort: 42000, remote: cone.mappings[0], index: 0, maxAttempts: 3 },
    ])
    // Sequential × sequential: pair i aims at the peer's i-th prediction, one attempt each.
    const sym2 = { ...sym, locals: [43000], candidatePorts: [61001, 61002, 61003, 61004] }
    expect(dialPairs(sym, sym2, Number.POSITIVE_INFINITY)).toEqual(
      [61001, 61002, 61003].map((port, index) => ({
        localPort: 42000,
        remote: { host: '198.18.0.31', port },
        index,
        maxAttempts: 1,
        ...(index > 0 ? { shiftMs: index * SWEEP_SPACING_MS } : {}),
      })),
    )
    expect(dialPairs(sym2, sym, 9).map((p) => [p.localPort, p.remote.port])).toEqual([
      [43000, 50008],
      [43000, 50009],
      [43000, 50010],
    ])
    const both = dialPairs(cone, { ...cone, locals: undefined } as never, 9)
    expect(both.map((p) => [p.localPort, p.remote.port, p.index])).toEqual([
      [41000, 41000, 0],
      [41001, 41001, 1],
    ])
  })

  it('canTry refuses legacy peers, random×random and remote peers without STUN', () => {
    const s = punch({ stunServers: ['127.0.0.1:3478'] })
    const a = address({ machineId: 'a'.repeat(64), nat: random })
    const b = address({ machineId: 'b'.repeat(64), ext: '198.18.0.40', nat: random })
    expect(s.canTry(a, b)).toMatch(/not punchable/)
    expect(s.canTry(a, { ...b, legacy: true })).toMatch(/not a key/)
    // random × port-restricted: sprayed within the default budget; refused when the budget
    // cannot reach its floor.
    const cone = address({ machineId: 'b'.repeat(64), ext: '198.18.0.40', nat: portRestricted })
    expect(s.canTry(a, cone)).toBe(true)
    expect(
      s.canTry(a, address({ machineId: 'b'.repeat(64), ext: '198.18.0.40', nat: restricted })),
    ).toBe(true)
    const tiny = punch({ stunServers: ['127.0.0.1:3478'], spray: { sockets: 16, maxProbes: 64 } })
    expect(tiny.canTry(a, cone)).toMatch(
      /not punchable: 64 probes against 16 live mappings \(of 16 sockets\)/,
    )
    expect(
      punch().canTry(
        address({ machineId: 'a'.repeat(64) }),
        address({ machineId: 'b'.repeat(64), ext: '198.18.0.40' }),
      ),
    ).toMatch(/STUN/)
    expect(punch().canTry(address({}), address({}))).toBe(true) // same machine: no STUN needed
  })

  it('two sequential sides sweep the clocks’ disagreement: pair i meets at i·s − U, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 32 }), fc.integer({ min: 0, max: 1_000 }), (n, u) => {
        const lead = vernierShifts(n, u, true, 0)
        const other = vernierShifts(n, u, false, 0)
        const step = (2 * u) / (n - 1)
        // Each side fires its pairs in index order (stagger ≥ 0 added on top).
        for (let i = 1; i < n; i++) expect(lead[i]).toBeGreaterThanOrEqual(lead[i - 1] as number)
        expect(new Set(other)).toEqual(new Set([u]))
        const rel = lead.map((x, i) => x - (other[i] as number))
        expect(rel[0] === -u).toBe(true)
        expect(Math.abs((rel[n - 1] as number) - u)).toBeLessThanOrEqual(1)
        // Whatever the clock error e in ±U, some pair meets within half a step (+ rounding).
        for (const e of [-u, -u / 3, 0, u / 2, u]) {
          const best = Math.min(...rel.map((r) => Math.abs(r + e)))
          expect(best).toBeLessThanOrEqual(step / 2 + 1)
        }
      }),
    )
  })

  it('exactly one of two sequential sides leads the sweep; none without disagreement', () => {
    const a = { nat: seq1, locals: [42000], mappings: [{ host: '198.18.0.31', port: 50007 }] }
    const b = { nat: seq1, locals: [43000], mappings: [{ host: '198.18.0.32', port: 50100 }] }
    const pa = { ...a, candidatePorts: [50008, 50009, 50010, 50011, 50012] }
    const pb = { ...b, candidatePorts: [50101, 50102, 50103, 50104, 50105] }
    const fromA = dialPairs(pa, pb, Number.POSITIVE_INFINITY, 40).map((p) => p.shiftMs ?? 0)
    const fromB = dialPairs(pb, pa, Number.POSITIVE_INFINITY, 40).map((p) => p.shiftMs ?? 0)
    const q = SWEEP_SPACING_MS
    expect(fromA).toEqual([0, 20 + q, 40 + 2 * q, 60 + 3 * q, 80 + 4 * q])
    expect(fromB).toEqual([40, 40 + q, 40 + 2 * q, 40 + 3 * q, 40 + 4 * q])
    // Without disagreement the sides only spread their pairs, alike.
    const plain = (x: typeof pa, y: typeof pa) => dialPairs(x, y, 9).map((p) => p.shiftMs ?? 0)
    expect(plain(pa, pb)).toEqual([0, q, 2 * q, 3 * q, 4 * q])
    expect(plain(pb, pa)).toEqual(plain(pa, pb))
  })

  it('the spacing keeps the sweep: both sides add the same i·q', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 32 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 100 }),
        (n, u, q) => {
          const rel = (spacing: number) => {
            const a = vernierShifts(n, u, true, spacing)
            const b = vernierShifts(n, u, false, spacing)
            return a.map((x, i) => x - (b[i] as number))
          }
          const spaced = rel(q)
          rel(0).forEach((r, i) => {
            expect(Math.abs((spaced[i] as number) - r)).toBeLessThanOrEqual(1)
          })
        },
      ),
    )
  })
})
