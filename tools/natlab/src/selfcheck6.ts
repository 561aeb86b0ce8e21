/**
 * The self-check's IPv6 half: a dual-stack or IPv6-only peer's router is a stateful firewall,
 * so from the lab observers' IPv6 twins the host must be seen as itself (no mapping), inbound
 * UDP and TCP must pass only from the address and port it contacted (APDF), and an
 * unsolicited SYN must meet the profile's policy (silence or RST).
 */
import type { Agent } from './node-in-ns.js'
import type { NatProfile } from './profiles.js'
import type { Behaviour, ProtoBehaviour } from './selfcheck.js'
import { judgeSyn, seenSyns } from './syn-check.js'
import type { LabInfo, LabPeer } from './topology.js'

/** What a peer's IPv6 side should look like from outside: untranslated, filtered per address and port. */
export function expectedBehaviour6(profile: NatProfile): Behaviour {
  const proto: ProtoBehaviour = { mapping: 'none', ports: 'none', filtering: 'APDF' }
  return { udp: proto, tcp: proto, syn: profile.syn, hairpin: null }
}

/** The IPv6 result of one peer. */
export interface Ipv6Check {
  readonly expected: Behaviour
  readonly observed: Partial<Behaviour>
  /** Differences, each starting with `ipv6`; empty when it matches. */
  readonly mismatches: readonly string[]
  readonly details: Record<string, unknown>
}

type HostPort = { host: string; port: number }

/** `seen [IPV6]:PORT` (or `seen IPV4:PORT`) from the seen service / an echo socket. */
export function parseSeen6(line: string | undefined): HostPort | undefined {
  const m = /^seen (?:\[([0-9a-f:.]+)\]|([\d.]+)):(\d+)/i.exec(line ?? '')
  return m ? { host: (m[1] ?? m[2]) as string, port: Number(m[3]) } : undefined
}

/** Filtering from which senders got through: the contacted one, same IP other port, other IP. */
const filteringOf = (otherPort: boolean, otherIp: boolean) =>
  otherIp ? 'EIF' : otherPort ? 'ADF' : 'APDF'

/**
 * Measures a peer's IPv6 side with its host agent `host` and the observer agent `obs` (in the
 * internet namespace). Never throws: a probe that cannot run is a mismatch.
 */
export async function checkIpv6(
  info: LabInfo,
  peer: LabPeer,
  obs: Agent,
  host: Agent,
): Promise<Ipv6Check> {
  const expected = expectedBehaviour6(peer.profile)
  const mismatches: string[] = []
  const details: Record<string, unknown> = {}
  const observed: { -readonly [K in keyof Behaviour]?: Behaviour[K] } = { hairpin: null }
  const me = peer.hostIp6
  const [o1, o2, o3] = (info.observers6 ?? []) as [string, string, string]
  if (!me || !o3) return { expected, observed, mismatches: ['ipv6: not a dual-stack lab'], details }
  const base = 8000 + 10 * peer.index
  const oneWay =
    (peer.shape?.upMs ?? 0) + (peer.shape?.downMs ?? 0) + (peer.shape?.jitterMs ?? 0) * 2
  const waitMs = 300 + 2 * oneWay
  try {
    // ---- UDP: seen as itself by two observers; then who may answer a fresh socket ----
    const targets: HostPort[] = [
      { host: o1, port: base },
      { host: o1, port: base + 1 },
      { host: o2, port: base },
    ]
    const echo: Record<string, number> = {}
    for (const t of targets)
      echo[`${t.host}/${t.port}`] = (await obs.call('udpOpen', { ...t, echo: true })).sock
    const s1 = await host.call('udpOpen', { family: 6 })
    const seen: HostPort[] = []
    for (const t of [targets[0], targets[2]] as HostPort[]) {
      const r = await host.call('udpRequest', {
        sock: s1.sock,
        ...t,
        data: 'map',
        timeoutMs: 1000 + 2 * oneWay,
      })
      const s = parseSeen6(r.data)
      if (!s) throw new Error(`no UDP answer from observer ${t.host} port ${t.port}`)
      seen.push(s)
    }
    details.udpSeen = seen
    const untranslated = (xs: HostPort[], port: number) =>
      xs.every((x) => x.host === me && x.port === port)
    const udpMap = untranslated(seen, s1.port)
      ? { mapping: 'none' as const, ports: 'none' }
      : { mapping: 'EIM' as const, ports: 'translated' }

    const s2 = await host.call('udpOpen', { family: 6 })
    const r2 = await host.call('udpRequest', {
      sock: s2.sock,
      ...targets[0],
      data: 'map',
      timeoutMs: 1000 + 2 * oneWay,
    })
    if (!parseSeen6(r2.data)) throw new Error('no UDP answer for the filtering probe')
    const to = { host: me, port: s2.port }
    const u3 = await obs.call('udpOpen', { host: o3, port: base })
    await host.call('udpInbox', { sock: s2.sock, clear: true })
    await obs.call('udpSend', { sock: echo[`${o1}/${base}`], ...to, data: 'f-same' })
    await obs.call('udpSend', { sock: echo[`${o1}/${base + 1}`], ...to, data: 'f-port' })
    await obs.call('udpSend', { sock: u3.sock, ...to, data: 'f-ip' })
    await sleep(waitMs)
    const inbox: string[] = (
      await host.call('udpInbox', { sock: s2.sock, clear: true })
    ).messages.map((m: { data: string }) => m.data)
    details.udpFilterInbox = inbox
    if (!inbox.includes('f-same'))
      mismatches.push('ipv6 udp: the contacted observer could not answer')
    observed.udp = {
      ...udpMap,
      filtering: filteringOf(inbox.includes('f-port'), inbox.includes('f-ip')),
    }

    // ---- TCP: seen as itself; SYNs from O1 (other port) and O3 to the contacted port ----
    await obs.call('tcpListen', targets[0])
    const c = await host.call('tcpConnect', {
      ...targets[0],
      readLine: true,
      timeoutMs: 2000 + 2 * oneWay,
    })
    if (!c.ok) throw new Error(`TCP to observer ${o1} failed: ${c.outcome} ${c.error ?? ''}`)
    const tSeen = parseSeen6(c.line)
    const localPort = Number(String(c.local).slice(String(c.local).lastIndexOf(':') + 1))
    details.tcpSeen = tSeen
    const tcpMap =
      tSeen && untranslated([tSeen], localPort)
        ? { mapping: 'none' as const, ports: 'none' }
        : { mapping: 'EIM' as const, ports: 'translated' }
    const synTimeout = 1200 + 4 * oneWay
    const [fromO1, fromO3, unmapped] = await Promise.all([
      obs.call('tcpConnect', { host: me, port: localPort, localHost: o1, timeoutMs: synTimeout }),
      obs.call('tcpConnect', { host: me, port: localPort, localHost: o3, timeoutMs: synTimeout }),
      // The SYN policy: a SYN to a port nothing on the host contacted anyone from.
      obs.call('tcpConnect', { host: me, port: 9, localHost: o3, timeoutMs: synTimeout }),
    ])
    await host.call('tcpClose', { conn: c.conn })
    const syns = await seenSyns(peer.ns.host, 'ip6')
    const reached = (src: string) => syns.some((s) => s.ip === src && s.dport === localPort)
    details.tcpFilter = {
      fromO1: fromO1.outcome,
      fromO3: fromO3.outcome,
      unmapped: unmapped.outcome,
    }
    observed.tcp = { ...tcpMap, filtering: filteringOf(reached(o1), reached(o3)) }
    const syn = judgeSyn(
      { unmapped: unmapped.outcome, filtered: reached(o3) ? undefined : fromO3.outcome },
      expected.syn,
      'ipv6 syn',
    )
    observed.syn = syn.observed
    mismatches.push(...syn.mismatches)
  } catch (err) {
    mismatches.push(`ipv6 probe failed: ${(err as Error).message}`)
  }
  for (const proto of ['udp', 'tcp'] as const) {
    const o = observed[proto]
    if (!o) continue
    for (const k of ['mapping', 'ports', 'filtering'] as const)
      if (o[k] !== expected[proto][k])
        mismatches.push(`ipv6 ${proto} ${k}: expected ${expected[proto][k]}, observed ${o[k]}`)
  }
  return { expected, observed, mismatches, details }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
