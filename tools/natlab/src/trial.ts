import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { bridge6Of, SERVER_IPS } from './addressing.js'
import { nsRun, spawnInNamespace, tool } from './exec.js'
import { jsonLines, PACKAGE_DIR, stopChild } from './node-in-ns.js'
import type { StrategyRunner } from './runners/index.js'
import type { RunnerConfig, RunnerResult } from './runners/protocol.js'
import type { LabInfo, LabPeer } from './topology.js'
import { firewallFlows6 } from './topology6.js'

/** How the bytes of a successful trial travelled, judged by the lab (not the runner). */
export type PathKind = 'direct' | 'relayed' | 'lan' | 'unknown'

/** One side of a trial, as the lab saw it. */
export interface SideReport {
  readonly peer: string
  readonly profile: string
  readonly result?: RunnerResult
  /** Why no result came (crash, timeout, bad protocol). */
  readonly protocolError?: string
  /** True when the router's conntrack holds this side's connection to the peer's public IP;
   *  `null` when there is no router (open) or no connection to look for. */
  readonly conntrack: boolean | null
  readonly stderr?: string
}

export interface TrialResult {
  readonly ok: boolean
  /** From the later of the two starts to the later side being connected, ms. */
  readonly timeToConnectMs?: number
  readonly winningStrategy?: string
  readonly path?: PathKind
  /** True only when both sides saw the other's public address and conntrack agrees. */
  readonly direct: boolean
  readonly failureReason?: string
  /** B's start minus A's start, ms. */
  readonly skewMs: number
  readonly durationMs: number
  readonly a: SideReport
  readonly b: SideReport
}

export interface TrialOptions {
  /** B starts this much after A (negative: before), ms. */
  readonly skewMs?: number
  readonly options?: Readonly<Record<string, unknown>>
  /** Lead time between both sides being ready and the shared start, ms (default 300). */
  readonly leadMs?: number
}

interface Side {
  child: ChildProcess
  ready: Promise<Record<string, unknown>>
  result: Promise<RunnerResult>
  stderr: () => string
}

function startSide(
  info: LabInfo,
  runner: StrategyRunner,
  role: 'A' | 'B',
  self: LabPeer,
  peer: LabPeer,
  options: Readonly<Record<string, unknown>>,
): Side {
  const config: RunnerConfig = {
    role,
    runner: runner.name,
    self: {
      label: self.label,
      hostIp: self.hostIp,
      publicIp: self.publicIp,
      profile: self.profile.name,
    },
    peer: { label: peer.label, publicIp: peer.publicIp, profile: peer.profile.name },
    servers: info.servers,
    options,
  }
  const cmd = runner.command({ role, options })
  const [bin, ...args] = cmd.argv
  const child = spawnInNamespace(self.ns.host, bin as string, args, {
    cwd: cmd.cwd ?? PACKAGE_DIR,
    env: { ...process.env, ...cmd.env, NATLAB_RUNNER_CONFIG: JSON.stringify(config) },
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-2000)
  })
  let onReady: (m: Record<string, unknown>) => void = () => {}
  let onResult: (r: RunnerResult) => void = () => {}
  const ready = new Promise<Record<string, unknown>>((resolve) => {
    onReady = resolve
  })
  const result = new Promise<RunnerResult>((resolve, reject) => {
    onResult = resolve
    child.once('exit', (code, sig) =>
      reject(new Error(`runner exited (${code ?? sig}) without a result`)),
    )
  })
  ready.catch(() => {})
  result.catch(() => {})
  jsonLines(child, (msg) => {
    if (msg.type === 'ready') onReady((msg.info as Record<string, unknown>) ?? {})
    else if (msg.type === 'result') onResult(msg as unknown as RunnerResult)
  })
  return { child, ready, result, stderr: () => err }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e) => {
        clearTimeout(t)
        reject(e)
      },
    )
  })
}

const hostOf = (addr: string | undefined) =>
  addr ? addr.slice(0, addr.lastIndexOf(':')).replace(/^::ffff:/, '') : ''
const portOf = (addr: string | undefined) =>
  addr ? Number(addr.slice(addr.lastIndexOf(':') + 1)) : 0

/**
 * True when `ns`'s conntrack table has a TCP entry between `local` (LAN ip:port) and
 * `remoteIp` — i.e. the router really carried this connection.
 */
export async function conntrackHas(ns: string, local: string, remoteIp: string): Promise<boolean> {
  const { stdout } = await nsRun(ns, tool('cat'), ['/proc/net/nf_conntrack'], { allowFail: true })
  const lip = hostOf(local)
  const lport = String(portOf(local))
  for (const line of stdout.split('\n')) {
    if (!line.includes(' tcp ') || !line.includes(remoteIp)) continue
    const src = [...line.matchAll(/src=([\d.]+)/g)].map((m) => m[1])
    const sport = [...line.matchAll(/sport=(\d+)/g)].map((m) => m[1])
    for (let i = 0; i < src.length; i++) if (src[i] === lip && sport[i] === lport) return true
  }
  return false
}

/**
 * True when `routerNs`'s IPv6 firewall passed packets from `local` (the host's IPv6) out to
 * `remoteIp` (untranslated IPv6 has no mapping to look up: the firewall's flow counters say it).
 */
export async function firewallPassed6(
  routerNs: string,
  local: string,
  remoteIp: string,
): Promise<boolean> {
  const lip = hostOf(local)
  const flows = await firewallFlows6(routerNs).catch(() => [])
  return flows.some((f) => f.dir === 'out' && f.src === lip && f.dst === remoteIp && f.packets > 0)
}

/** Classifies what a side saw as its peer's address. */
function pathOf(remote: string | undefined, peer: LabPeer): PathKind {
  const h = hostOf(remote)
  if (h === peer.publicIp || (peer.hostIp6 !== undefined && h === peer.hostIp6)) return 'direct'
  // A lab server's IPv4 address or its IPv6 twin (TURN over IPv6).
  if (Object.values(SERVER_IPS).some((ip) => h === ip || h === bridge6Of(ip))) return 'relayed'
  if (
    /^(10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/.test(h)
  )
    return 'lan'
  return 'unknown'
}

/**
 * Runs one trial: fresh runner processes for `a` (role A) and `b` (role B) in their host
 * namespaces, a shared start time, then the lab's own verdict on the data path.
 */
export async function runTrial(
  info: LabInfo,
  runner: StrategyRunner,
  a: LabPeer,
  b: LabPeer,
  opts: TrialOptions = {},
): Promise<TrialResult> {
  const started = performance.now()
  const skew = opts.skewMs ?? 0
  const options = { ...runner.defaults, ...opts.options }
  const timeoutMs = runner.timeoutMs ?? 15_000
  const sa = startSide(info, runner, 'A', a, b, options)
  const sb = startSide(info, runner, 'B', b, a, options)
  const report = (
    side: Side,
    peer: LabPeer,
    r: RunnerResult | undefined,
    e: string | undefined,
  ): SideReport => ({
    peer: peer.label,
    profile: peer.profile.name,
    result: r,
    protocolError: e,
    conntrack: null,
    stderr: side.stderr() || undefined,
  })
  let ra: RunnerResult | undefined
  let rb: RunnerResult | undefined
  let ea: string | undefined
  let eb: string | undefined
  let laterStart = 0
  try {
    const [ia, ib] = await withTimeout(Promise.all([sa.ready, sb.ready]), timeoutMs, 'runner ready')
    const nonce = randomBytes(6).toString('hex')
    const shared = Date.now() + (opts.leadMs ?? 300) + Math.max(0, -skew)
    laterStart = shared + Math.max(0, skew)
    const send = (s: Side, peer: Record<string, unknown>, at: number, sk: number) =>
      s.child.stdin?.write(
        `${JSON.stringify({ type: 'start', peer, startAt: at, skewMs: sk, nonce })}\n`,
      )
    send(sa, ib, shared, 0)
    send(sb, ia, shared + skew, skew)
    const settle = async (s: Side) => {
      try {
        return { r: await withTimeout(s.result, timeoutMs, 'runner result') }
      } catch (e) {
        return { e: (e as Error).message }
      }
    }
    const [xa, xb] = await Promise.all([settle(sa), settle(sb)])
    ra = xa.r
    ea = xa.e
    rb = xb.r
    eb = xb.e
  } catch (e) {
    ea = ea ?? (e as Error).message
    eb = eb ?? (e as Error).message
  } finally {
    await Promise.all([stopChild(sa.child, 500), stopChild(sb.child, 500)])
  }
  const repA = report(sa, a, ra, ea)
  const repB = report(sb, b, rb, eb)
  const ok = !!ra?.ok && !!rb?.ok
  let path: PathKind | undefined
  let direct = false
  let conA: boolean | null = null
  let conB: boolean | null = null
  if (ok) {
    const pa = pathOf(ra?.remote, b)
    const pb = pathOf(rb?.remote, a)
    path = pa === pb ? pa : 'unknown'
    // Over IPv6 (no NAT) the router's firewall counters stand in for the NAT's conntrack entry.
    const v6 = hostOf(ra?.remote).includes(':')
    const check = (p: LabPeer, local: string | undefined, remote: string | undefined) =>
      v6
        ? firewallPassed6(p.ns.router as string, local ?? '', hostOf(remote))
        : conntrackHas(
            p.ns.router as string,
            local ?? '',
            remote === undefined ? '' : hostOf(remote),
          )
    if (a.ns.router) conA = await check(a, ra?.local, v6 ? ra?.remote : `${b.publicIp}:0`)
    if (b.ns.router) conB = await check(b, rb?.local, v6 ? rb?.remote : `${a.publicIp}:0`)
    direct = path === 'direct' && conA !== false && conB !== false
  }
  const failureReason = ok
    ? direct || path !== 'direct'
      ? undefined
      : 'connected, but a router has no conntrack entry for it'
    : [
        `A: ${ra ? (ra.ok ? 'ok' : (ra.error ?? 'failed')) : ea}`,
        `B: ${rb ? (rb.ok ? 'ok' : (rb.error ?? 'failed')) : eb}`,
      ].join('; ')
  const later = Math.max(ra?.connectedAt ?? 0, rb?.connectedAt ?? 0)
  return {
    ok,
    timeToConnectMs: ok ? Math.max(0, later - laterStart) : undefined,
    winningStrategy: ok ? (ra?.strategy ?? rb?.strategy) : undefined,
    path,
    direct,
    failureReason,
    skewMs: skew,
    durationMs: Math.round(performance.now() - started),
    a: { ...repA, conntrack: conA },
    b: { ...repB, conntrack: conB },
  }
}
