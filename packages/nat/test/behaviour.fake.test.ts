import { DeltaType, NatType } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import {
  discoverNat,
  discoverTcpBehaviour,
  discoverUdpBehaviour,
  withUdpFiltering,
} from '../src/index.js'
import { type FakeNatProfile, type FakeNatStunServer, fakeNat } from './fake-nat-stun.js'

const servers: FakeNatStunServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
async function start(profile: FakeNatProfile): Promise<FakeNatStunServer> {
  const s = await fakeNat(profile)
  servers.push(s)
  return s
}
const base = { localAddress: '127.0.0.1', timeoutMs: 3000 }

describe('UDP decision tree against a simulated NAT', () => {
  it.each([
    ['open', { mapping: 'none', filtering: 'EIF' }, 'none', 'EIF', NatType.OpenInternet],
    [
      'firewall APDF',
      { mapping: 'none', filtering: 'APDF' },
      'none',
      'APDF',
      NatType.SymmetricUdpFirewall,
    ],
    [
      'firewall ADF',
      { mapping: 'none', filtering: 'ADF' },
      'none',
      'ADF',
      NatType.SymmetricUdpFirewall,
    ],
    ['full cone', { mapping: 'EIM', filtering: 'EIF' }, 'EIM', 'EIF', NatType.FullCone],
    ['restricted', { mapping: 'EIM', filtering: 'ADF' }, 'EIM', 'ADF', NatType.RestrictedCone],
    [
      'port-restricted',
      { mapping: 'EIM', filtering: 'APDF' },
      'EIM',
      'APDF',
      NatType.PortRestrictedCone,
    ],
    // P2PD's N1: ADM with address-dependent filtering is symmetric, not "restricted".
    [
      'symmetric ADM + ADF',
      { mapping: 'ADM', filtering: 'ADF', ports: { kind: 'sequential', step: 1, base: 40000 } },
      'ADM',
      'ADF',
      NatType.Symmetric,
    ],
    [
      'symmetric APDM + EIF',
      { mapping: 'APDM', filtering: 'EIF', ports: { kind: 'random', from: 1024, to: 65535 } },
      'APDM',
      'EIF',
      NatType.Symmetric,
    ],
  ] as const)('%s', async (_name, profile, mapping, filtering, code) => {
    const s = await start(profile as FakeNatProfile)
    const r = await discoverNat({ ...base, servers: [s.spec] })
    expect(r.mapping).toBe(mapping)
    expect(r.filtering).toBe(filtering)
    expect(r.natInfo.type).toBe(code)
    expect(r.behaviour.alternateSource).toBe('rfc5780')
    expect(r.behaviour.filteringSource).toBe('measured')
    if (mapping === 'none') {
      expect(r.behaviour.natted).toBe(false)
      expect(r.preserving).toBeNull()
      expect(r.natInfo.delta).toEqual({ type: DeltaType.NotApplicable, value: 0 })
      expect(r.delta).toBeUndefined()
    } else {
      expect(r.behaviour.natted).toBe(true)
      expect(r.behaviour.mapped?.host).toBe('203.0.113.7')
    }
  })

  it('a port-preserving EIM NAT has an equal delta', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'APDF' })
    const r = await discoverNat({ ...base, servers: [s.spec] })
    expect(r.preserving).toBe(true)
    expect(r.delta?.model).toBe('equal')
    expect(r.natInfo.delta).toEqual({ type: DeltaType.Equal, value: 0 })
  })

  it('a non-preserving EIM NAT with a fixed offset is preserving', async () => {
    const s = await start({
      mapping: 'EIM',
      filtering: 'APDF',
      ports: { kind: 'offset', offset: -777 },
    })
    const r = await discoverNat({ ...base, servers: [s.spec] })
    expect(r.preserving).toBe(false)
    expect(r.delta?.model).toBe('preserving')
    expect(r.delta?.offset).toBe(-777)
  })

  it.each([1, 3, -2])(
    'a sequential symmetric NAT (%i) is independent with its signed step',
    async (step) => {
      const s = await start({
        mapping: 'APDM',
        filtering: 'APDF',
        ports: { kind: 'sequential', step, base: 40000 },
      })
      const r = await discoverNat({ ...base, servers: [s.spec] })
      expect(r.mapping).toBe('APDM')
      expect(r.natInfo).toMatchObject({
        type: NatType.Symmetric,
        delta: { type: DeltaType.Independent, value: step },
      })
      expect(r.delta?.confidence).toBeGreaterThan(0.9)
    },
  )

  it('a random symmetric NAT is random', async () => {
    const s = await start({
      mapping: 'APDM',
      filtering: 'APDF',
      ports: { kind: 'random', from: 30000, to: 40000 },
    })
    const r = await discoverNat({ ...base, servers: [s.spec] })
    expect(r.natInfo.delta.type).toBe(DeltaType.Random)
    const range = r.natInfo.range as [number, number]
    expect(range[0]).toBeGreaterThan(20000)
    expect(range[1]).toBeLessThanOrEqual(50000)
  })

  it('a dependent NAT (+1 local → +5 mapped) is dependent 5', async () => {
    const s = await start({
      mapping: 'APDM',
      filtering: 'APDF',
      ports: { kind: 'dependent', step: 5 },
    })
    const r = await discoverNat({ ...base, servers: [s.spec] })
    expect(r.natInfo.delta).toEqual({ type: DeltaType.Dependent, value: 5 })
  })

  it('no answer at all is blocked (7), within the deadline', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'EIF', blocked: true })
    const t0 = performance.now()
    const r = await discoverNat({ ...base, servers: [s.spec], timeoutMs: 800 })
    expect(r.natInfo.type).toBe(NatType.Blocked)
    expect(r.behaviour.natted).toBeNull()
    expect(performance.now() - t0).toBeLessThan(1500)
  })

  it('RFC 3489 fallback: CHANGED-ADDRESS when OTHER-ADDRESS is absent', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'ADF', alternate: 'rfc3489' })
    const r = await discoverUdpBehaviour({ ...base, servers: [s.spec] })
    expect(r.alternateSource).toBe('rfc3489')
    expect(r.mapping).toBe('EIM')
    expect(r.filtering).toBe('ADF')
    expect(r.natType).toBe(NatType.RestrictedCone)
  })

  it('no alternate address: a second server tells EIM from EDM', async () => {
    const a = await start({ mapping: 'EIM', filtering: 'APDF', alternate: 'none' })
    const b = await start({ mapping: 'EIM', filtering: 'APDF', alternate: 'none' })
    const second = `127.0.0.2:${b.ports[0]}`
    const eim = await discoverUdpBehaviour({ ...base, servers: [a.spec, second] })
    expect(eim.alternateSource).toBe('second-server')
    expect(eim.mapping).toBe('EIM')
    expect(eim.filtering).toBe('unknown')
    expect(eim.natType).toBe(NatType.PortRestrictedCone)

    const c = await start({
      mapping: 'APDM',
      filtering: 'APDF',
      alternate: 'none',
      ports: { kind: 'random', from: 2000, to: 60000 },
    })
    const d = await start({
      mapping: 'APDM',
      filtering: 'APDF',
      alternate: 'none',
      ports: { kind: 'random', from: 2000, to: 60000 },
    })
    const edm = await discoverUdpBehaviour({
      ...base,
      servers: [c.spec, `127.0.0.2:${d.ports[0]}`],
    })
    expect(edm.mapping).toBe('EDM')
    expect(edm.natType).toBe(NatType.Symmetric)
  })

  it('no alternate and one server: mapping unknown, reported as symmetric', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'APDF', alternate: 'none' })
    const r = await discoverUdpBehaviour({ ...base, servers: [s.spec] })
    expect(r.mapping).toBe('unknown')
    expect(r.natType).toBe(NatType.Symmetric)
    expect(r.notes.join(' ')).toMatch(/mapping unknown/)
  })

  it.each([
    ['ignores', { ignoreChange: true }],
    ['refuses (400)', { errorOnChange: true }],
  ])('a server that %s CHANGE-REQUEST gives unknown filtering, not APDF', async (_n, extra) => {
    const s = await start({ mapping: 'EIM', filtering: 'EIF', ...extra })
    const r = await discoverUdpBehaviour({ ...base, servers: [s.spec] })
    expect(r.mapping).toBe('EIM')
    expect(r.filtering).toBe('unknown')
    expect(r.natType).toBe(NatType.PortRestrictedCone)
  })

  it('hairpinning: seen when the NAT loops the mapping back, not otherwise', async () => {
    const yes = await start({
      mapping: 'EIM',
      filtering: 'APDF',
      publicIp: '127.0.0.3',
      hairpin: true,
    })
    expect((await discoverUdpBehaviour({ ...base, servers: [yes.spec] })).hairpin).toBe(true)
    const no = await start({ mapping: 'EIM', filtering: 'APDF', publicIp: '127.0.0.3' })
    const r = await discoverUdpBehaviour({ ...base, servers: [no.spec] })
    expect(r.hairpin).toBe(false)
    expect(
      await discoverUdpBehaviour({ ...base, servers: [no.spec], hairpin: false }),
    ).toMatchObject({ hairpin: null })
  })

  it('the first server that answers with an alternate address wins', async () => {
    const dead = await start({ mapping: 'EIM', filtering: 'EIF', blocked: true })
    const live = await start({ mapping: 'EIM', filtering: 'EIF' })
    const r = await discoverUdpBehaviour({ ...base, servers: [dead.spec, live.spec] })
    expect(r.server.port).toBe(live.ports[0])
    expect(r.natType).toBe(NatType.FullCone)
  })

  it('an abort from the caller rejects with AbortError', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'APDF' })
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 20)
    await expect(
      discoverNat({ ...base, servers: [s.spec], signal: ac.signal }),
    ).rejects.toMatchObject({ code: 'ABORTED' })
  })
})

describe('TCP decision tree against a simulated NAT', () => {
  it.each([
    ['EIM', { mapping: 'EIM', filtering: 'APDF' }, 'EIM'],
    [
      'ADM',
      { mapping: 'ADM', filtering: 'APDF', ports: { kind: 'random', from: 2000, to: 60000 } },
      'ADM',
    ],
    [
      'APDM',
      { mapping: 'APDM', filtering: 'APDF', ports: { kind: 'random', from: 2000, to: 60000 } },
      'APDM',
    ],
    ['none', { mapping: 'none', filtering: 'EIF' }, 'none'],
  ] as const)('%s mapping from one local port', async (_n, profile, mapping) => {
    const s = await start(profile as FakeNatProfile)
    const r = await discoverTcpBehaviour({ ...base, servers: [s.spec] })
    expect(r.mapping).toBe(mapping)
    expect(r.filtering).toBe('unknown')
    expect(r.filteringSource).toBe('none')
    // C1, C2 and C3 left from one local port; the three dial-back requests (ignored here, as
    // coturn ignores them) each from a fresh one.
    const tcp = s.requests.filter((q) => q.transport === 'tcp')
    expect(new Set(tcp.filter((q) => !q.callback).map((q) => q.from.port)).size).toBe(1)
    expect(new Set(tcp.filter((q) => q.callback).map((q) => q.from.port)).size).toBe(3)
  })

  it('TCP filtering is inferred from UDP by natInfoForInterface semantics', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'ADF' })
    const [udp, tcp] = await Promise.all([
      discoverNat({ ...base, servers: [s.spec], transport: 'udp' }),
      discoverNat({ ...base, servers: [s.spec], transport: 'tcp' }),
    ])
    expect(tcp.natInfo.type).toBe(NatType.PortRestrictedCone)
    const merged = withUdpFiltering(tcp, udp)
    expect(merged.filtering).toBe('ADF')
    expect(merged.behaviour.filteringSource).toBe('inferred')
    expect(merged.natInfo.type).toBe(NatType.RestrictedCone)
    expect(merged.natInfo.delta.type).toBe(DeltaType.Equal)
  })

  it('a sequential TCP NAT is independent 1 (serial connects)', async () => {
    const s = await start({
      mapping: 'APDM',
      filtering: 'APDF',
      ports: { kind: 'sequential', step: 1, base: 50000 },
    })
    const r = await discoverNat({ ...base, servers: [s.spec], transport: 'tcp' })
    expect(r.mapping).toBe('APDM')
    expect(r.natInfo.delta).toEqual({ type: DeltaType.Independent, value: 1 })
  })

  it('a refused TCP server is blocked (7)', async () => {
    const s = await start({ mapping: 'EIM', filtering: 'EIF', blocked: true })
    const r = await discoverNat({ ...base, servers: [s.spec], transport: 'tcp', timeoutMs: 1000 })
    expect(r.natInfo.type).toBe(NatType.Blocked)
  })
})
