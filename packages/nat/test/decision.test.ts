import { NatType } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { decideFiltering, decideMapping, isUnmapped, natTypeFor } from '../src/index.js'

const local = { host: '10.0.0.2', port: 40000 }
const at = (host: string, port: number) => ({ family: 4 as const, host, port })

describe('decideMapping (RFC 5780 §4.3, mapping first)', () => {
  it('no answer to test I is unknown', () => {
    expect(decideMapping({ local })).toBe('unknown')
  })
  it('mapped == local is no NAT, whatever the other tests say', () => {
    expect(decideMapping({ local, primary: at('10.0.0.2', 40000) })).toBe('none')
  })
  it('a wildcard socket counts the given local IPs as its own', () => {
    const wild = { host: '0.0.0.0', port: 40000 }
    expect(
      decideMapping({ local: wild, primary: at('10.0.0.2', 40000) }, { localIps: ['10.0.0.2'] }),
    ).toBe('none')
    expect(isUnmapped(at('10.0.0.3', 40000), wild, ['10.0.0.2'])).toBe(false)
  })
  it('test II equal to test I is EIM', () => {
    const m = at('198.51.100.1', 5000)
    expect(decideMapping({ local, primary: m, altIp: m, altIpPort: at('198.51.100.1', 9) })).toBe(
      'EIM',
    )
  })
  it('test III equal to test II is ADM, different is APDM', () => {
    const p = at('198.51.100.1', 5000)
    const q = at('198.51.100.1', 5001)
    expect(decideMapping({ local, primary: p, altIp: q, altIpPort: q })).toBe('ADM')
    expect(
      decideMapping({ local, primary: p, altIp: q, altIpPort: at('198.51.100.1', 5002) }),
    ).toBe('APDM')
  })
  it('missing tests II or III give unknown, not a guess', () => {
    const p = at('198.51.100.1', 5000)
    expect(decideMapping({ local, primary: p })).toBe('unknown')
    expect(decideMapping({ local, primary: p, altIp: at('198.51.100.1', 5001) })).toBe('unknown')
  })
  it('with a second server instead of an alternate: EIM or EDM', () => {
    const p = at('198.51.100.1', 5000)
    expect(decideMapping({ local, primary: p, altIp: p }, { secondServer: true })).toBe('EIM')
    expect(
      decideMapping({ local, primary: p, altIp: at('198.51.100.1', 7) }, { secondServer: true }),
    ).toBe('EDM')
  })
})

describe('decideFiltering (RFC 5780 §4.4)', () => {
  it.each([
    [{ changeIpPort: true, changePort: true }, 'EIF'],
    [{ changeIpPort: true, changePort: false }, 'EIF'],
    [{ changeIpPort: false, changePort: true }, 'ADF'],
    [{ changeIpPort: false, changePort: false }, 'APDF'],
    [{ changeIpPort: false }, 'unknown'],
    [{}, 'unknown'],
  ] as const)('%j → %s', (obs, want) => {
    expect(decideFiltering(obs)).toBe(want)
  })
})

describe('natTypeFor (P2PD codes)', () => {
  it.each([
    [false, 'unknown', 'unknown', NatType.Blocked],
    [true, 'none', 'EIF', NatType.OpenInternet],
    [true, 'none', 'ADF', NatType.SymmetricUdpFirewall],
    [true, 'none', 'APDF', NatType.SymmetricUdpFirewall],
    [true, 'none', 'unknown', NatType.SymmetricUdpFirewall],
    [true, 'EIM', 'EIF', NatType.FullCone],
    [true, 'EIM', 'ADF', NatType.RestrictedCone],
    [true, 'EIM', 'APDF', NatType.PortRestrictedCone],
    [true, 'EIM', 'unknown', NatType.PortRestrictedCone],
    // P2PD's N1: an endpoint-dependent NAT is symmetric whatever its filtering.
    [true, 'ADM', 'ADF', NatType.Symmetric],
    [true, 'APDM', 'EIF', NatType.Symmetric],
    [true, 'EDM', 'APDF', NatType.Symmetric],
    [true, 'unknown', 'EIF', NatType.FullCone],
    [true, 'unknown', 'APDF', NatType.Symmetric],
  ] as const)('reachable=%s %s/%s → %i', (reachable, mapping, filtering, code) => {
    expect(natTypeFor(reachable, mapping, filtering)).toBe(code)
  })
})
