import { NatlabError } from './errors.js'

/** The NAT kinds the lab builds (see the README's profiles table). */
export type ProfileKind =
  | 'open'
  | 'full-cone'
  | 'restricted'
  | 'port-restricted'
  | 'sym-seq'
  | 'sym-random'
  | 'eim-range'
  | 'fw6'

/** RFC 4787 mapping behaviour, plus `none` for no NAT. */
export type Mapping = 'none' | 'EIM' | 'ADM' | 'APDM'
/** RFC 4787 filtering behaviour. */
export type Filtering = 'EIF' | 'ADF' | 'APDF'
/** What the NAT does with an unsolicited inbound TCP SYN: RFC 5382 REQ-4 silence, or a RST. */
export type SynPolicy = 'drop' | 'rst'

/**
 * The peer's IP families: IPv4 only (every profile by default), dual-stack (`+v6`: the router
 * also routes the peer's own IPv6 prefix, untranslated, through a stateful firewall), or IPv6
 * only (`fw6`: no IPv4 anywhere on the host).
 */
export type IpFamilies = 'v4' | 'dual' | 'v6'

/** How the external port is chosen. */
export type PortBehaviour =
  | { kind: 'preserving' }
  | { kind: 'range'; from: number; to: number }
  | { kind: 'sequential'; delta: number; base: number }
  | { kind: 'random' }

/** Conntrack timers of one router, in seconds (set per namespace through sysctl). */
export interface ConntrackTimeouts {
  readonly udp: number
  readonly udpStream: number
  readonly tcpEstablished: number
  readonly tcpSynSent: number
  /** Lifetime of an inbound (cone) mapping learnt from outbound traffic. */
  readonly coneMap: number
}

/** A fully resolved NAT profile of one peer. */
export interface NatProfile {
  /** Canonical name, e.g. `port-restricted-drop+hairpin`. */
  readonly name: string
  readonly kind: ProfileKind
  readonly mapping: Mapping
  readonly filtering: Filtering
  readonly ports: PortBehaviour
  readonly syn: SynPolicy
  readonly hairpin: boolean
  /** A CGNAT router (plain port-preserving NAT, APDF, same SYN policy) stacked upstream. */
  readonly cgnat: boolean
  /** A second host on the same LAN behind this router (implied by `+hairpin`). */
  readonly lan2: boolean
  /** The router runs miniupnpd: UPnP IGD, NAT-PMP and PCP port mapping for its LAN. */
  readonly portmap: boolean
  /** IPv4 only, dual-stack (`+v6`) or IPv6 only (`fw6`). */
  readonly ip: IpFamilies
  readonly timeouts: ConntrackTimeouts
}

export const DEFAULT_TIMEOUTS: ConntrackTimeouts = {
  udp: 30,
  udpStream: 180,
  tcpEstablished: 7440,
  tcpSynSent: 120,
  coneMap: 300,
}

/** The sequential NAT hands out ports from here up (`numgen inc mod 1024 map`). */
export const SEQ_BASE_PORT = 50000
/** The non-preserving EIM NAT maps into this range. */
export const RANGE_PORTS = { from: 20000, to: 29999 } as const

const KINDS = /^(open|full-cone|restricted|port-restricted|sym-seq(\d+)?|sym-random|eim-range|fw6)$/

/** The base profile names (each with `-drop` and `-rst`), as the matrix and `up` use them. */
export const BASE_KINDS = [
  'open',
  'full-cone',
  'restricted',
  'port-restricted',
  'eim-range',
  'sym-seq1',
  'sym-seq2',
  'sym-random',
] as const

/** Every base profile × SYN policy: the default set for `up`, `selfcheck` and `matrix`. */
export const ALL_PROFILES: readonly string[] = BASE_KINDS.flatMap((k) => [`${k}-drop`, `${k}-rst`])

/**
 * The IPv6 profiles: an IPv6-only host behind a stateful firewall (no translation; inbound
 * filtered per address and port, as the usual home IPv6 router), unsolicited SYNs dropped or
 * answered with a RST. Not in {@link ALL_PROFILES}: IPv4 labs stay IPv4 unless asked.
 */
export const IPV6_PROFILES: readonly string[] = ['fw6-drop', 'fw6-rst']

/** The `+option`s a profile name may carry, in canonical order. */
const PROFILE_OPTIONS: readonly string[] = ['hairpin', 'cgnat', 'lan2', 'portmap', 'v6']

/**
 * Parses a profile name: `KIND[-drop|-rst][+hairpin][+cgnat][+lan2][+portmap][+v6]`, where KIND is
 * one of `open`, `full-cone`, `restricted`, `port-restricted`, `eim-range`, `sym-seqK` (delta +K,
 * `sym-seq` = +1), `sym-random` or `fw6` (IPv6 only, stateful firewall, no NAT). `+v6` makes a
 * NAT profile dual-stack: its IPv6 side is a stateful firewall with the same SYN policy. The
 * SYN policy defaults to `drop`.
 */
export function parseProfile(
  spec: string,
  overrides: { timeouts?: Partial<ConntrackTimeouts> } = {},
): NatProfile {
  const [head = '', ...opts] = spec.trim().toLowerCase().split('+')
  let base = head
  let syn: SynPolicy = 'drop'
  const m = /^(.*)-(drop|rst)$/.exec(head)
  if (m) {
    base = m[1] as string
    syn = m[2] as SynPolicy
  }
  const km = KINDS.exec(base)
  if (!km) throw new NatlabError('NATLAB_USAGE', `unknown NAT profile '${spec}'`)
  const flags = new Set(opts)
  for (const f of flags)
    if (!PROFILE_OPTIONS.includes(f))
      throw new NatlabError('NATLAB_USAGE', `unknown profile option '+${f}' in '${spec}'`)
  const kind = (base.startsWith('sym-seq') ? 'sym-seq' : base) as ProfileKind
  const delta = kind === 'sym-seq' ? Number(km[2] ?? 1) : 0
  if (kind === 'sym-seq' && (delta < 1 || delta > 1000))
    throw new NatlabError('NATLAB_USAGE', `sym-seq delta must be 1…1000 in '${spec}'`)
  if (kind === 'open' && flags.size > 0)
    throw new NatlabError('NATLAB_USAGE', `'open' has no router: +${[...flags][0]} does not apply`)
  if (kind === 'fw6')
    for (const f of flags)
      if (f !== 'lan2')
        throw new NatlabError(
          'NATLAB_USAGE',
          `'fw6' is IPv6 only without NAT: +${f} does not apply`,
        )
  if (flags.has('v6') && flags.has('cgnat'))
    throw new NatlabError('NATLAB_USAGE', `+v6 with +cgnat is not built (in '${spec}')`)

  const table: Record<
    ProfileKind,
    { mapping: Mapping; filtering: Filtering; ports: PortBehaviour }
  > = {
    open: { mapping: 'none', filtering: 'EIF', ports: { kind: 'preserving' } },
    'full-cone': { mapping: 'EIM', filtering: 'EIF', ports: { kind: 'preserving' } },
    restricted: { mapping: 'EIM', filtering: 'ADF', ports: { kind: 'preserving' } },
    'port-restricted': { mapping: 'EIM', filtering: 'APDF', ports: { kind: 'preserving' } },
    'eim-range': {
      mapping: 'EIM',
      filtering: 'APDF',
      ports: { kind: 'range', ...RANGE_PORTS },
    },
    'sym-seq': {
      mapping: 'APDM',
      filtering: 'APDF',
      ports: { kind: 'sequential', delta, base: SEQ_BASE_PORT },
    },
    'sym-random': { mapping: 'APDM', filtering: 'APDF', ports: { kind: 'random' } },
    // No translation; established/related only, as conntrack sees it (per address and port).
    fw6: { mapping: 'none', filtering: 'APDF', ports: { kind: 'preserving' } },
  }
  const t = table[kind]
  const kindName = kind === 'sym-seq' ? `sym-seq${delta}` : kind
  const name = [`${kindName}-${syn}`, ...PROFILE_OPTIONS.filter((f) => flags.has(f))].join('+')
  return {
    name,
    kind,
    ...t,
    // A CGNAT upstream filters per address and port whatever the home router does.
    filtering: flags.has('cgnat') ? 'APDF' : t.filtering,
    syn,
    hairpin: flags.has('hairpin'),
    cgnat: flags.has('cgnat'),
    // Hairpinning is between two hosts of one LAN: Linux drops a packet whose DNATed
    // destination is its own source, so a hairpin profile always gets a second host.
    lan2: flags.has('lan2') || flags.has('hairpin'),
    portmap: flags.has('portmap'),
    ip: kind === 'fw6' ? 'v6' : flags.has('v6') ? 'dual' : 'v4',
    timeouts: { ...DEFAULT_TIMEOUTS, ...overrides.timeouts },
  }
}

/**
 * Parses a comma-separated list (CLI `--profiles`); `all` expands to {@link ALL_PROFILES},
 * `all6` to {@link IPV6_PROFILES}.
 */
export function parseProfileList(list: string): NatProfile[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((s) => (s === 'all' ? ALL_PROFILES : s === 'all6' ? IPV6_PROFILES : [s]))
  if (names.length === 0) throw new NatlabError('NATLAB_USAGE', 'empty profile list')
  return names.map((n) => parseProfile(n))
}
