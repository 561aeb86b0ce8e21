import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  BRIDGE_IP,
  OBSERVER_IPS,
  OBSERVER6_IPS,
  type PeerAddresses,
  type PeerAddresses6,
  PUBLIC_CIDR,
  PUBLIC_PREFIX_LEN,
  peerAddresses,
  peerAddresses6,
} from './addressing.js'
import {
  type DelayLine,
  disableOffloads,
  type LinkShape,
  needsDelayLine,
  startDelayLine,
} from './delayline.js'
import { NatlabError } from './errors.js'
import { ip, nftLoad, nsRun, requireLabTools, requireRoot, tool } from './exec.js'
import { startMiniupnpd, UPNP_HTTP_PORT } from './miniupnpd.js'
import { newRunPrefix, nsName, peerLabel } from './naming.js'
import { cgnatRuleset, hostRuleset, routerRuleset } from './nft.js'
import { assertIsolation, blackholes, bridgePort, routerSysctls, veth } from './plumbing.js'
import { type IpFamilies, type NatProfile, parseProfile } from './profiles.js'
import { teardownRun, teardownSync } from './runs.js'
import {
  defaultServers,
  type LabEndpoint,
  type LabServer,
  type RunningLabServer,
} from './servers.js'
import { processStartTicks, type RunState, stateDir, writeState } from './state.js'
import { buildInternet6, buildPeer6, enableIpv6 } from './topology6.js'

export { assertIsolation } from './plumbing.js'
export {
  attachLab,
  downRun,
  downStale,
  listNamespaces,
  peerNamespaces,
  runningLabs,
  teardownRun,
  teardownSync,
} from './runs.js'

/** One peer of the lab: a host behind its router (and CGNAT), with its profile. */
export interface LabPeer {
  readonly index: number
  /** `A`, `B`, … */
  readonly label: string
  readonly profile: NatProfile
  readonly addresses: PeerAddresses
  /** IPv4 only, dual-stack or IPv6 only (`fw6`). */
  readonly ip: IpFamilies
  /** The peer's IPv6 plan (dual-stack and IPv6-only peers). */
  readonly addresses6?: PeerAddresses6
  /** The peer's public address (top router's WAN, or the host's own for `open`); for an
   *  IPv6-only peer, the host's global IPv6 address. */
  readonly publicIp: string
  /** The host's own address (LAN, or public for `open`; IPv6 for an IPv6-only peer). */
  readonly hostIp: string
  readonly host2Ip?: string
  /** The host's global IPv6 address (untranslated: also what the world sees). */
  readonly hostIp6?: string
  readonly host2Ip6?: string
  readonly ns: {
    readonly host: string
    readonly router?: string
    readonly cgnat?: string
    readonly host2?: string
    /** The delay line's namespace (only with a link shape). */
    readonly wire?: string
  }
  /** The delay line on this peer's uplink, if any. */
  readonly shape?: LinkShape
  /** With `+portmap`: where the router's miniupnpd answers (NAT-PMP/PCP on UDP 5351). */
  readonly portmap?: { readonly gateway: string; readonly upnpUrl: string }
}

/** Everything another process needs to use a running lab (stored in the run's state file). */
export interface LabInfo {
  readonly prefix: string
  readonly internetNs: string
  readonly peers: readonly LabPeer[]
  /** Endpoints of every lab server, by server name then endpoint name. */
  readonly servers: Readonly<Record<string, Readonly<Record<string, LabEndpoint>>>>
  /** Observer addresses (in the internet namespace) free for self-checks. */
  readonly observers: readonly string[]
  /** True when the lab is dual-stack (some peer has IPv6): servers and observers have IPv6. */
  readonly ipv6?: boolean
  /** The observers' IPv6 addresses (dual-stack labs). */
  readonly observers6?: readonly string[]
  readonly shape?: LinkShape
}

/** A peer as asked for: a profile name (or profile), and optionally its own link shape. */
export interface PeerSpec {
  readonly profile: string | NatProfile
  readonly shape?: LinkShape
}

export interface LabOptions {
  readonly peers: readonly (string | PeerSpec)[]
  /** Delay line on every peer's uplink (router ↔ internet bridge). None by default. */
  readonly shape?: LinkShape
  /** Lab servers (default: seen service, coturn, mosquitto). */
  readonly servers?: readonly LabServer[]
  /** Use this run prefix (default: a fresh `p2lXXXXXX-`). */
  readonly prefix?: string
  /** Tear down on process exit, SIGINT and SIGTERM (default true). */
  readonly handleSignals?: boolean
  readonly log?: (message: string) => void
}

const live = new Set<Lab>()
let handlersInstalled = false

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.once('exit', () => {
    for (const lab of live) teardownSync(lab.prefix)
  })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      Promise.allSettled([...live].map((l) => l.down())).finally(() =>
        process.exit(sig === 'SIGINT' ? 130 : 143),
      )
    })
  }
}

/**
 * A running lab. Build it with {@link Lab.up}; remove it with {@link Lab.down} (also done on
 * exit, error and signals). Everything it creates carries its run prefix.
 */
export class Lab {
  private readonly delayLines: DelayLine[] = []
  private readonly running: RunningLabServer[] = []
  private downPromise?: Promise<void>

  private constructor(
    readonly info: LabInfo,
    private readonly state: RunState,
    private readonly log: (m: string) => void,
  ) {}

  get prefix(): string {
    return this.info.prefix
  }

  /** Builds the topology, starts the servers and delay lines. On any error it tears down. */
  static async up(opts: LabOptions): Promise<Lab> {
    requireRoot()
    const servers = opts.servers ?? defaultServers()
    requireLabTools(needsShape(opts) ? ['python3'] : [])
    for (const s of servers) for (const [bin] of s.requires ?? []) tool(bin)
    const prefix = opts.prefix ?? newRunPrefix()
    const log = opts.log ?? (() => {})
    const runDir = join(stateDir(), prefix.slice(0, -1))
    mkdirSync(runDir, { recursive: true, mode: 0o755 })
    const state: RunState = {
      stateVersion: 1,
      prefix,
      ownerPid: process.pid,
      ownerStartTicks: processStartTicks(process.pid) ?? 0,
      createdAt: new Date().toISOString(),
      status: 'building',
      namespaces: [],
      processes: [],
      runDir,
    }
    writeState(state)
    const peers = opts.peers.map((p, i) => makePeer(prefix, i, p, opts.shape))
    if (peers.some((p) => p.portmap)) tool('miniupnpd')
    const ipv6 = peers.some((p) => p.ip !== 'v4')
    const info: LabInfo = {
      prefix,
      internetNs: nsName.internet(prefix),
      peers,
      servers: {},
      observers: [...OBSERVER_IPS],
      ...(ipv6 ? { ipv6, observers6: [...OBSERVER6_IPS] } : {}),
      shape: opts.shape,
    }
    const lab = new Lab(info, state, log)
    live.add(lab)
    if (opts.handleSignals !== false) installHandlers()
    try {
      await lab.build(servers)
      state.status = 'up'
      state.info = lab.info
      writeState(state)
      return lab
    } catch (err) {
      await lab.down().catch(() => {})
      throw err
    }
  }

  /** Creates a namespace; IPv6 stays off in it unless `v6` (then forwarding with `forward6`). */
  private async addNs(name: string, v6 = false, forward6 = false): Promise<void> {
    this.state.namespaces.push(name)
    writeState(this.state)
    await ip(['netns', 'add', name])
    await ip(['-n', name, 'link', 'set', 'lo', 'up'])
    if (v6) await enableIpv6(name, forward6)
    else
      await nsRun(name, tool('sysctl'), [
        '-qw',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ])
  }

  private track(pid: number, what: string, ns: string): void {
    this.state.processes.push({ pid, what, ns })
    writeState(this.state)
  }

  private async build(servers: readonly LabServer[]): Promise<void> {
    const inet = this.info.internetNs
    this.log(`lab ${this.prefix}: building ${this.info.peers.length} peer(s)`)
    const ipv6 = this.info.ipv6 === true
    await this.addNs(inet, ipv6, true)
    await ip(['-n', inet, 'link', 'add', 'name', 'br0', 'type', 'bridge'])
    await ip(['-n', inet, 'link', 'set', 'br0', 'up'])
    const addrs = new Set([BRIDGE_IP, ...OBSERVER_IPS, ...servers.flatMap((s) => s.addresses)])
    for (const a of addrs)
      await ip(['-n', inet, 'addr', 'add', `${a}/${PUBLIC_PREFIX_LEN}`, 'dev', 'br0'])
    if (ipv6)
      await buildInternet6(inet, [...OBSERVER6_IPS, ...servers.flatMap((s) => s.addresses6 ?? [])])
    await blackholes(inet)

    // Namespaces are created one by one (the state file must list each before it exists);
    // links and rules are then built for all peers in parallel.
    for (const p of this.info.peers) {
      const v6 = p.ip !== 'v4'
      if (p.ns.wire) await this.addNs(p.ns.wire)
      if (p.ns.cgnat) await this.addNs(p.ns.cgnat)
      if (p.ns.router) await this.addNs(p.ns.router, v6, true)
      for (const h of [p.ns.host, p.ns.host2]) if (h) await this.addNs(h, v6)
    }
    await Promise.all(this.info.peers.map((p) => this.buildPeer(p)))

    for (const s of servers) {
      const r = await s.start({
        prefix: this.prefix,
        ns: inet,
        runDir: this.state.runDir,
        ipv6,
        track: (pid, what) => this.track(pid, what, inet),
      })
      this.running.push(r)
      ;(this.info.servers as Record<string, unknown>)[r.name] = r.endpoints
    }
    await Promise.all(this.info.peers.map((p) => this.startPortMapping(p)))
    await assertIsolation(this.info)
    this.log(`lab ${this.prefix}: up`)
  }

  /** `+portmap`: miniupnpd in the peer's router, once the lab STUN server it checks with runs. */
  private async startPortMapping(p: LabPeer): Promise<void> {
    if (!p.portmap || !p.ns.router) return
    const stun = this.info.servers.coturn?.stun
    if (!stun) throw new NatlabError('NATLAB_USAGE', '+portmap needs the coturn lab server (STUN)')
    const proc = await startMiniupnpd({
      ns: p.ns.router,
      runDir: this.state.runDir,
      label: p.label,
      stun,
    })
    this.track(proc.pid, `miniupnpd ${p.label}`, p.ns.router)
    this.running.push({
      name: `miniupnpd ${p.label}`,
      endpoints: {},
      pids: [proc.pid],
      stop: () => proc.stop(),
    })
  }

  private async buildPeer(p: LabPeer): Promise<void> {
    const inet = this.info.internetNs
    const a = p.addresses
    const top = p.ns.cgnat ?? p.ns.router ?? p.ns.host
    const i = p.index
    // Uplink: top namespace's `wan` ↔ [wire namespace: a ⇄ delay line ⇄ b] ↔ a port of the
    // internet bridge. The wire namespace has no addresses: nothing there answers ARP, so no
    // frame can take a shortcut around the delay line.
    if (p.ns.wire && p.shape) {
      const w = p.ns.wire
      await veth(top, 'wan', w, 'dla')
      await veth(w, 'dlb', inet, `bp${i}`)
      await bridgePort(inet, `bp${i}`, 'br0')
      for (const dev of ['dla', 'dlb']) await ip(['-n', w, 'link', 'set', dev, 'up'])
      await disableOffloads(top, 'wan')
      await disableOffloads(inet, `bp${i}`)
      for (const dev of ['dla', 'dlb']) await disableOffloads(w, dev)
      const dl = await startDelayLine(w, 'dla', 'dlb', p.shape, `${this.prefix}dl${p.label}`)
      this.delayLines.push(dl)
      this.track(dl.pid, `delayline ${p.label}`, w)
    } else {
      await veth(top, 'wan', inet, `bp${i}`)
      await bridgePort(inet, `bp${i}`, 'br0')
    }
    // An IPv6-only peer has no IPv4 address anywhere.
    const v4 = p.ip !== 'v6'
    if (v4) await ip(['-n', top, 'addr', 'add', `${p.publicIp}/${PUBLIC_PREFIX_LEN}`, 'dev', 'wan'])
    await ip(['-n', top, 'link', 'set', 'wan', 'up'])

    if (!p.ns.router) {
      // open: the host sits on the internet bridge itself.
      await blackholes(p.ns.host)
      await nftLoad(p.ns.host, hostRuleset({ silentSyn: p.profile.syn === 'drop' }))
      return
    }
    const r = p.ns.router
    await ip(['-n', r, 'link', 'add', 'name', 'lan', 'type', 'bridge'])
    if (v4) await ip(['-n', r, 'addr', 'add', `${a.routerLanIp}/24`, 'dev', 'lan'])
    await ip(['-n', r, 'link', 'set', 'lan', 'up'])
    const hosts: [string, string, string][] = [[p.ns.host, a.hostIp, 'l1']]
    if (p.ns.host2) hosts.push([p.ns.host2, a.host2Ip, 'l2'])
    for (const [h, hip, port] of hosts) {
      await veth(h, 'eth0', r, port)
      await bridgePort(r, port, 'lan')
      if (v4) await ip(['-n', h, 'addr', 'add', `${hip}/24`, 'dev', 'eth0'])
      await ip(['-n', h, 'link', 'set', 'eth0', 'up'])
      // No default route anywhere: hosts reach the public range through their router only.
      if (v4) await ip(['-n', h, 'route', 'add', PUBLIC_CIDR, 'via', a.routerLanIp])
      await blackholes(h, [a.lanPrefix])
      await nftLoad(h, hostRuleset({ silentSyn: false }))
    }
    let routerWan = p.publicIp
    if (p.ns.cgnat) {
      const c = p.ns.cgnat
      const link = a.cgnatLink
      routerWan = link.routerWanIp
      await veth(r, 'wan', c, 'lan')
      await ip(['-n', r, 'addr', 'add', `${link.routerWanIp}/24`, 'dev', 'wan'])
      await ip(['-n', r, 'link', 'set', 'wan', 'up'])
      await ip(['-n', c, 'addr', 'add', `${link.cgnatIp}/24`, 'dev', 'lan'])
      await ip(['-n', c, 'link', 'set', 'lan', 'up'])
      await ip(['-n', r, 'route', 'add', PUBLIC_CIDR, 'via', link.cgnatIp])
      await blackholes(c)
      await nftLoad(c, cgnatRuleset(p.publicIp, p.profile.syn))
      await routerSysctls(c, p.profile)
    }
    await blackholes(r)
    if (v4)
      await nftLoad(
        r,
        routerRuleset({ profile: p.profile, wanIp: routerWan, lanPrefix: a.lanPrefix }),
      )
    await routerSysctls(r, p.profile)
    if (p.addresses6) {
      const hosts: [string, string][] = [[p.ns.host, p.addresses6.hostIp]]
      if (p.ns.host2) hosts.push([p.ns.host2, p.addresses6.host2Ip])
      await buildPeer6(this.info.internetNs, {
        v6: p.addresses6,
        syn: p.profile.syn,
        router: r,
        hosts,
      })
    }
  }

  /** Tears the lab down (idempotent): processes by PID, then namespaces by name. */
  down(): Promise<void> {
    if (!this.downPromise) {
      this.downPromise = (async () => {
        await Promise.allSettled(this.running.map((s) => s.stop()))
        await Promise.allSettled(this.delayLines.map((d) => d.stop()))
        await teardownRun(this.state)
        live.delete(this)
        this.log(`lab ${this.prefix}: down`)
      })()
    }
    return this.downPromise
  }
}

function needsShape(opts: LabOptions): boolean {
  return (
    needsDelayLine(opts.shape) ||
    opts.peers.some((p) => typeof p !== 'string' && needsDelayLine(p.shape))
  )
}

function makePeer(
  prefix: string,
  index: number,
  spec: string | PeerSpec,
  shape?: LinkShape,
): LabPeer {
  const s = typeof spec === 'string' ? { profile: spec } : spec
  const profile = typeof s.profile === 'string' ? parseProfile(s.profile) : s.profile
  const label = peerLabel(index)
  const a = peerAddresses(index)
  const open = profile.kind === 'open'
  const linkShape = s.shape ?? shape
  const a6 = profile.ip !== 'v4' ? peerAddresses6(index) : undefined
  const only6 = profile.ip === 'v6' && a6
  return {
    index,
    label,
    profile,
    addresses: a,
    ip: profile.ip,
    ...(a6
      ? {
          addresses6: a6,
          hostIp6: a6.hostIp,
          host2Ip6: profile.lan2 ? a6.host2Ip : undefined,
        }
      : {}),
    publicIp: only6 ? only6.hostIp : a.publicIp,
    hostIp: only6 ? only6.hostIp : open ? a.publicIp : a.hostIp,
    host2Ip: profile.lan2 ? (only6 ? only6.host2Ip : a.host2Ip) : undefined,
    ns: {
      host: nsName.host(prefix, label),
      router: open ? undefined : nsName.router(prefix, label),
      cgnat: profile.cgnat ? nsName.cgnat(prefix, label) : undefined,
      host2: profile.lan2 ? nsName.host2(prefix, label) : undefined,
      wire: needsDelayLine(linkShape) ? nsName.wire(prefix, label) : undefined,
    },
    shape: needsDelayLine(linkShape) ? linkShape : undefined,
    portmap: profile.portmap
      ? {
          gateway: a.routerLanIp,
          upnpUrl: `http://${a.routerLanIp}:${UPNP_HTTP_PORT}/rootDesc.xml`,
        }
      : undefined,
  }
}
