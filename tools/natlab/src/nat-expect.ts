/**
 * What `p2pd nat --json` should say about a lab profile, and how what it said compares: the
 * pure half of `pnpm lab nat-check` (no lab, no root). Expectations come from the profile
 * definition alone ({@link expectedBehaviour}, the same the lab's self-check measures against),
 * never from `@p2pd/nat`'s own decision code, so a wrong verdict there cannot excuse itself.
 */
import { NatlabError } from './errors.js'
import type { Filtering, Mapping, NatProfile, SynPolicy } from './profiles.js'
import { expectedBehaviour } from './selfcheck.js'

/** The P2PD NAT type codes (peer address), as RFC 4787 mapping + filtering define them. */
export function expectedNatType(mapping: Mapping, filtering: Filtering): number {
  if (mapping === 'none') return filtering === 'EIF' ? 1 : 2
  if (mapping !== 'EIM') return 6
  return filtering === 'EIF' ? 3 : filtering === 'ADF' ? 4 : 5
}

/** One transport as `p2pd nat` should report it. */
export interface SideExpectation {
  readonly mapping: Mapping
  /** `none`, `preserving`, `non-preserving`, `seq+K` or `random` (as the self-check says). */
  readonly ports: string
  readonly filtering: Filtering
  /** P2PD type code of this transport's record. */
  readonly natType: number
}

/** Everything compared for one profile. */
export interface NatExpectation {
  readonly udp: SideExpectation
  readonly tcp: SideExpectation
  /** What the NAT (or firewall) does with an unsolicited SYN. */
  readonly syn: SynPolicy
  /**
   * UDP hairpin from a second socket of the same host; `undefined`: not compared (a `+hairpin`
   * profile hairpins between two LAN hosts: Linux drops a packet DNATed back to its own source).
   */
  readonly hairpin: boolean | null | undefined
  /** External ports a `range` profile maps into. */
  readonly portRange?: { readonly from: number; readonly to: number }
}

/** The expectation for `profile`, from its definition. */
export function expectedNat(profile: NatProfile): NatExpectation {
  const b = expectedBehaviour(profile)
  const side = (p: typeof b.udp): SideExpectation => ({
    mapping: p.mapping,
    ports: p.ports,
    filtering: p.filtering,
    natType: expectedNatType(p.mapping, p.filtering),
  })
  // The IPv6 firewall profile: no translation, filtered per address and port.
  const v6 = profile.ip === 'v6'
  const udp = v6 ? { ...side(b.udp), mapping: 'none' as const, ports: 'none' } : side(b.udp)
  const fixed = v6 ? { ...udp, natType: expectedNatType('none', udp.filtering) } : udp
  return {
    udp: fixed,
    tcp: v6 ? fixed : side(b.tcp),
    syn: profile.syn,
    hairpin:
      profile.kind === 'open' || v6 ? null : profile.hairpin && !profile.cgnat ? undefined : false,
    ...(profile.ports.kind === 'range'
      ? { portRange: { from: profile.ports.from, to: profile.ports.to } }
      : {}),
  }
}

/** One transport as `p2pd nat --json` reported it. */
export interface SideObserved {
  readonly mapping: string
  readonly ports: string
  readonly filtering: string
  readonly natType: number
  readonly filteringSource: string
  readonly hairpin: boolean | null
  readonly mapped?: { readonly host: string; readonly port: number }
  readonly synPolicy?: string
  readonly notes: readonly string[]
}

/** The parts of `p2pd nat --json` (both transports) that are compared. */
export interface NatObserved {
  /** The peer-address record: type code, delta, our TCP filter. */
  readonly natType: number
  readonly delta: { readonly type: number; readonly value: number }
  readonly tcpFilter?: { readonly filtering: string; readonly synPolicy: string }
  readonly udp: SideObserved
  readonly tcp: SideObserved
  readonly totalMs: number
}

type Json = Record<string, unknown>
const obj = (v: unknown, what: string): Json => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new NatlabError('NATLAB_RUNNER', `p2pd nat --json: ${what} is not an object`)
  return v as Json
}
const str = (v: unknown) => (typeof v === 'string' ? v : 'missing')
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN)

/**
 * The port behaviour in the self-check's words: `seq+K` for an independent delta, `random`
 * for a symmetric NAT's unpredictable one, else whether the mapped port kept the local one.
 */
function portsOf(mapping: string, preserving: unknown, delta: Json | undefined): string {
  if (mapping === 'none') return 'none'
  const type = num(delta?.type)
  if (type === 4) {
    const v = num(delta?.value)
    return v >= 0 ? `seq+${v}` : `seq${v}`
  }
  if (type === 6 && mapping !== 'EIM') return 'random'
  return preserving === true ? 'preserving' : 'non-preserving'
}

function side(d: Json): SideObserved {
  const b = obj(d.behaviour, 'behaviour')
  const mapping = str(d.mapping)
  const info = obj(d.natInfo, 'natInfo')
  const mapped =
    b.mapped && typeof b.mapped === 'object'
      ? { host: str((b.mapped as Json).host), port: num((b.mapped as Json).port) }
      : undefined
  return {
    mapping,
    ports: portsOf(mapping, d.preserving, obj(info.delta, 'natInfo.delta')),
    filtering: str(d.filtering),
    natType: num(info.type),
    filteringSource: str(b.filteringSource),
    hairpin: typeof d.hairpin === 'boolean' ? d.hairpin : null,
    ...(mapped ? { mapped } : {}),
    ...(typeof b.synPolicy === 'string' ? { synPolicy: b.synPolicy } : {}),
    notes: Array.isArray(b.notes) ? b.notes.map(String) : [],
  }
}

/** Reads `p2pd nat --json` (both transports); a typed error when it is not that shape. */
export function readNatJson(text: string): NatObserved {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new NatlabError('NATLAB_RUNNER', `p2pd nat --json printed no JSON: ${text.slice(0, 200)}`)
  }
  const r = obj(parsed, 'the output')
  const info = obj(r.natInfo, 'natInfo')
  const delta = obj(info.delta, 'natInfo.delta')
  const tcp = info.tcp ? obj(info.tcp, 'natInfo.tcp') : undefined
  return {
    natType: num(info.type),
    delta: { type: num(delta.type), value: num(delta.value) },
    ...(tcp ? { tcpFilter: { filtering: str(tcp.filtering), synPolicy: str(tcp.synPolicy) } } : {}),
    udp: side(obj(r.udp, 'udp')),
    tcp: side(obj(r.tcp, 'tcp')),
    totalMs: num(r.totalMs),
  }
}

/** Where the lab says the peer's traffic should come from. */
export interface PeerAddress {
  /** The public (or, without NAT, the host's own) address a server sees. */
  readonly publicIp: string
}

/** Every difference between what `p2pd nat` said and the profile; empty when it reads right. */
export function compareNat(e: NatExpectation, o: NatObserved, peer: PeerAddress): string[] {
  const out: string[] = []
  for (const proto of ['udp', 'tcp'] as const) {
    const want = e[proto]
    const got = o[proto]
    for (const k of ['mapping', 'ports', 'filtering', 'natType'] as const)
      if (got[k] !== want[k]) out.push(`${proto} ${k}: expected ${want[k]}, got ${got[k]}`)
    if (got.mapped?.host !== peer.publicIp)
      out.push(`${proto} mapped address: expected ${peer.publicIp}, got ${got.mapped?.host}`)
    // TCP filtering must be measured (our server dials back), not copied from UDP.
    if (got.filteringSource !== 'measured')
      out.push(`${proto} filtering ${got.filteringSource}, not measured`)
    const port = got.mapped?.port ?? Number.NaN
    if (e.portRange && !(port >= e.portRange.from && port <= e.portRange.to))
      out.push(`${proto} mapped port ${port} outside ${e.portRange.from}-${e.portRange.to}`)
  }
  if (o.tcp.synPolicy !== e.syn) out.push(`tcp syn: expected ${e.syn}, got ${o.tcp.synPolicy}`)
  if (o.natType !== e.tcp.natType)
    out.push(`peer record type: expected ${e.tcp.natType}, got ${o.natType}`)
  if (o.tcpFilter?.filtering !== e.tcp.filtering || o.tcpFilter?.synPolicy !== e.syn)
    out.push(
      `peer record tcp filter: expected ${e.tcp.filtering}/${e.syn}, got ${o.tcpFilter?.filtering}/${o.tcpFilter?.synPolicy}`,
    )
  if (e.hairpin !== undefined && o.udp.hairpin !== e.hairpin)
    out.push(`udp hairpin: expected ${e.hairpin}, got ${o.udp.hairpin}`)
  return out
}

/** `EIM/preserving/APDF`: one transport, in the self-check's order. */
export const fmtSide = (s: { mapping: string; ports: string; filtering: string }) =>
  `${s.mapping}/${s.ports}/${s.filtering}`
