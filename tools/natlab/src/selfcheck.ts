import { NatlabError } from './errors.js'
import { Agent } from './node-in-ns.js'
import type { Filtering, Mapping, NatProfile, SynPolicy } from './profiles.js'
import { checkIpv6, type Ipv6Check } from './selfcheck6.js'
import { judgeSyn, seenSyns } from './syn-check.js'
import { assertIsolation, type LabInfo, type LabPeer } from './topology.js'

/** One protocol's behaviour, as configured or as measured. */
export interface ProtoBehaviour {
  readonly mapping: Mapping
  /** `none`, `preserving`, `non-preserving`, `seq+K` (K may be negative) or `random`. */
  readonly ports: string
  readonly filtering: Filtering
}

export interface Behaviour {
  readonly udp: ProtoBehaviour
  readonly tcp: ProtoBehaviour
  readonly syn: SynPolicy
  /** Whether a LAN host reaches its own public mapping; `null` where it does not apply. */
  readonly hairpin: boolean | null
}

/** Configured vs measured RTT host ↔ lab server (observer O1), ms. */
export interface RttReport {
  readonly configuredMs: number
  readonly observedMedianMs: number
  readonly observedMinMs: number
  readonly observedMaxMs: number
  readonly samples: number
}

export interface PeerCheck {
  readonly peer: string
  readonly profile: string
  readonly ok: boolean
  readonly expected: Behaviour
  /** Partial when a probe could not run (then `mismatches` says why). */
  readonly observed: Partial<Behaviour>
  readonly rtt?: RttReport
  /** The IPv6 side (dual-stack and IPv6-only peers): untranslated, APDF, the SYN policy. */
  readonly ipv6?: Ipv6Check
  /** Human-readable differences (IPv6 ones start with `ipv6`); empty when `ok`. */
  readonly mismatches: readonly string[]
  /** Raw observations, for debugging a lab fault. */
  readonly details: Record<string, unknown>
  readonly ms: number
}

export interface SelfCheckReport {
  readonly ok: boolean
  readonly prefix: string
  readonly peers: readonly PeerCheck[]
  readonly ms: number
}

/** What a profile should look like from the outside. */
export function expectedBehaviour(profile: NatProfile): Behaviour {
  const p = profile.ports
  const ports =
    profile.kind === 'open'
      ? 'none'
      : p.kind === 'preserving'
        ? 'preserving'
        : p.kind === 'range'
          ? 'non-preserving'
          : p.kind === 'sequential'
            ? `seq+${p.delta}`
            : 'random'
  const proto: ProtoBehaviour = { mapping: profile.mapping, ports, filtering: profile.filtering }
  return {
    udp: proto,
    tcp: proto,
    syn: profile.syn,
    // The public mapping of a CGNAT'd peer lives on the CGNAT, which does not hairpin.
    hairpin: profile.kind === 'open' ? null : profile.hairpin && !profile.cgnat,
  }
}

type HostPort = {
  host: string
  port: number
}

function parseSeen(line: string | undefined): HostPort | undefined {
  const m = /^seen ([\d.]+):(\d+)/.exec(line ?? '')
  return m ? { host: m[1] as string, port: Number(m[2]) } : undefined
}

const same = (a: HostPort, b: HostPort) => a.host === b.host && a.port === b.port

/** Classifies mapping and port behaviour from four mappings: O1:p, O1:p+1, O2:p, O2:p+1. */
export function classifyMapping(
  localIp: string,
  localPort: number,
  m: readonly HostPort[],
): { mapping: Mapping; ports: string } {
  const [a, b, c, d] = m as [HostPort, HostPort, HostPort, HostPort]
  if (a.host === localIp) return { mapping: 'none', ports: 'none' }
  let mapping: Mapping
  if (same(a, b) && same(b, c) && same(c, d)) mapping = 'EIM'
  else if (same(a, b) && same(c, d)) mapping = 'ADM'
  else mapping = 'APDM'
  if (mapping !== 'APDM')
    return { mapping, ports: a.port === localPort ? 'preserving' : 'non-preserving' }
  const d1 = b.port - a.port
  const d2 = c.port - b.port
  const d3 = d.port - c.port
  return { mapping, ports: d1 === d2 && d2 === d3 ? `seq+${d1}` : 'random' }
}

/** Filtering from which senders got through: the contacted one, same IP other port, other IP. */
export function classifyFiltering(otherPort: boolean, otherIp: boolean): Filtering {
  if (otherIp) return 'EIF'
  if (otherPort) return 'ADF'
  return 'APDF'
}

/**
 * Whether a measured RTT shows the configured delay line, judged on the fastest of the echoes:
 * a busy machine (two cores running a whole test suite) inflates the median by tens of ms, but
 * some echo still gets through near the line's delay. Never below the configured delay (the
 * line is missing), and clearly below twice it (the line is applied twice).
 */
export function rttMatches(configuredMs: number, jitterMs: number, observedMinMs: number): boolean {
  if (observedMinMs < configuredMs - 1) return false
  return observedMinMs <= configuredMs * 1.5 + 2 * jitterMs + 20
}

/**
 * How long an agent (a tsx-started Node process per namespace) may take to come up: one per
 * peer starts at once, and on a loaded 2-core machine (load 25) 15 s was not always enough.
 */
const AGENT_START_MS = 60_000

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)] ?? Number.NaN
}

/**
 * Measures every peer's real behaviour from lab observers and compares it with its profile:
 * UDP and TCP mapping (EIM/ADM/APDM, port preservation or delta), filtering (EIF/ADF/APDF),
 * the unsolicited-SYN policy, hairpinning, and configured vs observed RTT.
 * A mismatch makes `ok` false: the caller treats it as a lab fault.
 */
export async function selfCheck(
  info: LabInfo,
  opts: { peers?: readonly string[]; log?: (m: string) => void } = {},
): Promise<SelfCheckReport> {
  const started = performance.now()
  await assertIsolation(info)
  const peers = info.peers.filter((p) => !opts.peers || opts.peers.includes(p.label))
  const observer = await Agent.start(info.internetNs, AGENT_START_MS)
  try {
    const checks = await Promise.all(
      peers.map((p) =>
        checkPeer(info, p, observer).then((c) => {
          opts.log?.(
            `${c.ok ? 'ok  ' : 'FAIL'} ${p.label} ${p.profile.name}${c.ok ? '' : `: ${c.mismatches.join('; ')}`}`,
          )
          return c
        }),
      ),
    )
    return {
      ok: checks.every((c) => c.ok),
      prefix: info.prefix,
      peers: checks,
      ms: Math.round(performance.now() - started),
    }
  } finally {
    await observer.stop()
  }
}

/** Throws `NATLAB_LAB_FAULT` unless the report is clean. */
export function assertSelfCheck(report: SelfCheckReport): void {
  if (report.ok) return
  const bad = report.peers.filter((p) => !p.ok)
  throw new NatlabError(
    'NATLAB_LAB_FAULT',
    `lab self-check failed (a lab fault, not a traversal result): ${bad
      .map((p) => `${p.peer} ${p.profile}: ${p.mismatches.join('; ')}`)
      .join(' | ')}`,
  )
}

async function checkPeer(info: LabInfo, peer: LabPeer, obs: Agent): Promise<PeerCheck> {
  const started = performance.now()
  const expected = expectedBehaviour(peer.profile)
  const mismatches: string[] = []
  const details: Record<string, unknown> = {}
  const observed: { -readonly [K in keyof Behaviour]?: Behaviour[K] } = {}
  const [o1, o2, o3] = info.observers as [string, string, string]
  const base = 7000 + 10 * peer.index
  const oneWay =
    (peer.shape?.upMs ?? 0) + (peer.shape?.downMs ?? 0) + (peer.shape?.jitterMs ?? 0) * 2
  const waitMs = 300 + 2 * oneWay
  const host = await Agent.start(peer.ns.host, AGENT_START_MS)
  let rtt: RttReport | undefined
  let ipv6: Ipv6Check | undefined
  try {
    // An IPv6-only peer has no IPv4 side to measure.
    if (peer.ip !== 'v6') {
      // ---- UDP mapping ----
      const targets: HostPort[] = [
        { host: o1, port: base },
        { host: o1, port: base + 1 },
        { host: o2, port: base },
        { host: o2, port: base + 1 },
      ]
      const echo: Record<string, number> = {}
      for (const t of targets)
        echo[`${t.host}:${t.port}`] = (await obs.call('udpOpen', { ...t, echo: true })).sock
      const s1 = await host.call('udpOpen', {})
      const um: HostPort[] = []
      for (const t of targets) {
        const r = await host.call('udpRequest', {
          sock: s1.sock,
          ...t,
          data: 'map',
          timeoutMs: 1000 + 2 * oneWay,
        })
        const seen = parseSeen(r.data)
        if (!seen) throw new Error(`no UDP answer from observer ${t.host}:${t.port}`)
        um.push(seen)
      }
      details.udpMappings = um
      const udpMap = classifyMapping(peer.hostIp, s1.port, um)

      // ---- UDP filtering (fresh socket, only O1:base contacted) ----
      const s2 = await host.call('udpOpen', {})
      const r2 = await host.call('udpRequest', {
        sock: s2.sock,
        ...targets[0],
        data: 'map',
        timeoutMs: 1000 + 2 * oneWay,
      })
      const m2 = parseSeen(r2.data)
      if (!m2) throw new Error('no UDP answer for the filtering mapping')
      const u3 = await obs.call('udpOpen', { host: o3, port: base })
      await host.call('udpInbox', { sock: s2.sock, clear: true })
      await obs.call('udpSend', { sock: echo[`${o1}:${base}`], ...m2, data: 'f-same' })
      await obs.call('udpSend', { sock: echo[`${o1}:${base + 1}`], ...m2, data: 'f-port' })
      await obs.call('udpSend', { sock: u3.sock, ...m2, data: 'f-ip' })
      await sleep(waitMs)
      const inbox: string[] = (
        await host.call('udpInbox', { sock: s2.sock, clear: true })
      ).messages.map((m: { data: string }) => m.data)
      details.udpFilterInbox = inbox
      if (!inbox.includes('f-same')) mismatches.push('udp: the contacted observer could not answer')
      const udpFilt = classifyFiltering(inbox.includes('f-port'), inbox.includes('f-ip'))
      observed.udp = { ...udpMap, filtering: udpFilt }

      // ---- UDP hairpin: the second LAN host (or, without one, another socket of the same
      // host) sends to the public mapping ----
      if (expected.hairpin !== null) {
        const sender = peer.ns.host2 ? await Agent.start(peer.ns.host2, AGENT_START_MS) : host
        try {
          const s3 = await sender.call('udpOpen', {})
          await sender.call('udpSend', { sock: s3.sock, ...m2, data: 'hairpin' })
        } finally {
          if (sender !== host) await sender.stop()
        }
        await sleep(200)
        const hin = (await host.call('udpInbox', { sock: s2.sock })).messages.map(
          (m: { data: string }) => m.data,
        )
        observed.hairpin = hin.includes('hairpin')
      } else observed.hairpin = null

      // ---- RTT (UDP, host ↔ O1) ----
      const rtts: number[] = []
      for (let i = 0; i < 9; i++) {
        const r = await host.call('udpRequest', {
          sock: s1.sock,
          ...targets[0],
          data: 'rtt',
          timeoutMs: 1000 + 2 * oneWay,
        })
        if (typeof r.rttMs === 'number') rtts.push(r.rttMs)
      }
      const configured = (peer.shape?.upMs ?? 0) + (peer.shape?.downMs ?? 0)
      rtt = {
        configuredMs: configured,
        observedMedianMs: round(median(rtts)),
        observedMinMs: round(Math.min(...rtts)),
        observedMaxMs: round(Math.max(...rtts)),
        samples: rtts.length,
      }
      const jitter = peer.shape?.jitterMs ?? 0
      if (rtts.length < 5) mismatches.push(`rtt: only ${rtts.length}/9 echoes came back`)
      else if (!rttMatches(configured, jitter, rtt.observedMinMs))
        mismatches.push(
          `rtt: configured ${configured} ms, observed min ${rtt.observedMinMs} ms (median ${rtt.observedMedianMs} ms)`,
        )

      // ---- TCP mapping: one local port, four observers ----
      for (const t of targets) await obs.call('tcpListen', t)
      const tm: HostPort[] = []
      const conns: number[] = []
      // Bound explicitly (SO_REUSEADDR) so the four connections can share it; 40000–49999 is
      // outside the range and sequential NATs' own port pools, so "preserving" means preserving.
      const localPort = 40000 + Math.floor(Math.random() * 10000)
      for (const t of targets) {
        const r = await host.call('tcpConnect', {
          ...t,
          localPort,
          readLine: true,
          timeoutMs: 2000 + 2 * oneWay,
        })
        if (!r.ok)
          throw new Error(
            `TCP to observer ${t.host}:${t.port} failed: ${r.outcome} ${r.error ?? ''}`,
          )
        conns.push(r.conn)
        const seen = parseSeen(r.line)
        if (!seen) throw new Error('no seen line from the TCP observer')
        tm.push(seen)
      }
      details.tcpMappings = tm
      const tcpMap = classifyMapping(peer.hostIp, localPort, tm)

      // ---- TCP filtering: SYNs from O1 (other port) and O3 to a fresh mapping ----
      const f = await host.call('tcpConnect', {
        ...targets[0],
        readLine: true,
        timeoutMs: 2000 + 2 * oneWay,
      })
      if (!f.ok) throw new Error(`TCP to observer failed: ${f.outcome}`)
      conns.push(f.conn)
      const mt = parseSeen(f.line) as HostPort
      const fPort = Number(String(f.local).split(':')[1])
      const synTimeout = 1200 + 4 * oneWay
      const [fromO1, fromO3, unmapped] = await Promise.all([
        obs.call('tcpConnect', { ...mt, localHost: o1, timeoutMs: synTimeout }),
        obs.call('tcpConnect', { ...mt, localHost: o3, timeoutMs: synTimeout }),
        // The SYN policy: a SYN to a public port nobody mapped.
        obs.call('tcpConnect', {
          host: peer.publicIp,
          port: 9,
          localHost: o3,
          timeoutMs: synTimeout,
        }),
      ])
      const syns = await seenSyns(peer.ns.host, 'ip')
      const reached = (src: string) => syns.some((s) => s.ip === src && s.dport === fPort)
      details.tcpFilter = {
        mapping: mt,
        fromO1: fromO1.outcome,
        fromO3: fromO3.outcome,
        unmapped: unmapped.outcome,
      }
      observed.tcp = { ...tcpMap, filtering: classifyFiltering(reached(o1), reached(o3)) }
      const syn = judgeSyn(
        { unmapped: unmapped.outcome, filtered: reached(o3) ? undefined : fromO3.outcome },
        expected.syn,
      )
      observed.syn = syn.observed
      mismatches.push(...syn.mismatches)
      for (const c of conns) await host.call('tcpClose', { conn: c })
    }
    if (peer.ip !== 'v4') ipv6 = await checkIpv6(info, peer, obs, host)
  } catch (err) {
    mismatches.push(`probe failed: ${(err as Error).message}`)
  } finally {
    await host.stop()
  }
  if (ipv6) mismatches.push(...ipv6.mismatches)
  // An IPv6-only peer is judged on its IPv6 side alone.
  if (peer.ip === 'v6' && ipv6) {
    Object.assign(observed, ipv6.observed)
    Object.assign(expected, ipv6.expected)
  }
  for (const proto of ['udp', 'tcp'] as const) {
    if (peer.ip === 'v6') continue
    const o = observed[proto]
    if (!o) continue
    for (const k of ['mapping', 'ports', 'filtering'] as const)
      if (o[k] !== expected[proto][k])
        mismatches.push(`${proto} ${k}: expected ${expected[proto][k]}, observed ${o[k]}`)
  }
  if (peer.ip !== 'v6' && observed.hairpin !== undefined && observed.hairpin !== expected.hairpin)
    mismatches.push(`hairpin: expected ${expected.hairpin}, observed ${observed.hairpin}`)
  return {
    peer: peer.label,
    profile: peer.profile.name,
    ok: mismatches.length === 0,
    expected,
    observed,
    rtt,
    ipv6,
    mismatches,
    details,
    ms: Math.round(performance.now() - started),
  }
}

const round = (x: number) => Math.round(x * 10) / 10
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
