import { abortReason, Deadline, type Endpoint } from '@p2pd/interface'
import { type BindingResult, normalizeIp, type StunAddress, StunTcpClient } from '@p2pd/stun'
import type { BehaviourOptions } from './behaviour-options.js'
import { blockedResult, buildBehaviourResult } from './behaviour-result.js'
import { decideMapping, isUnmapped } from './decision.js'
import { anyAddress } from './local-ips.js'
import { alternateOf, probeFamily, resolveServers } from './servers.js'
import { probeTcpFiltering, type TcpFilteringProbe } from './tcp-filtering.js'
import { DISCOVERY_MS, discoveryBudgetMs, remaining } from './timing.js'
import type { AlternateSource, BehaviourResult, MappingObservations } from './types.js'
import { isNoAnswer } from './udp-behaviour.js'

/**
 * Behaviour discovery over TCP for one local address. Test I is a kept-open connection C1 to
 * the primary; tests II and III are connections C2 and C3 *from the same local port* to the
 * alternate IP (primary port) and to the alternate IP and port.
 *
 * Node binds the local port with SO_REUSEADDR (libuv does so in every explicit TCP bind, but
 * not when connect() picks the port itself, so C1 is always bound explicitly), and Linux then
 * lets several *connected* sockets share one local port as long as their 4-tuples differ and
 * none listens: C1, C2 and C3 are open at the same time. Where the OS refuses
 * (EADDRINUSE), the tests fall back to one connection at a time, closing the previous one
 * first (a different destination, so TIME_WAIT is no obstacle). Only the same 4-tuple while
 * the old connection lingers fails (EADDRNOTAVAIL).
 *
 * Filtering cannot be probed with plain STUN over TCP (a change request must be answered on the
 * same connection: servers reply 400). Where the server supports our TCP-CALLBACK extension it
 * is measured by dial-backs to fresh ports (see {@link probeTcpFiltering}), in parallel with
 * tests II/III, which also tells the SYN policy; elsewhere it is `unknown`, or
 * `inferredFiltering` when given.
 */
export async function discoverTcpBehaviour(opts: BehaviourOptions): Promise<BehaviourResult> {
  const started = performance.now()
  // Test I runs under the caller's deadline or the default; a slow path then gets more time.
  const what = 'TCP behaviour discovery'
  const budget = { phase: new Deadline(opts.timeoutMs ?? DISCOVERY_MS, opts.signal, what) }
  try {
    return await tcpBehaviour(opts, started, budget, (rttMs) => {
      if (opts.timeoutMs !== undefined || budget.phase.aborted) return
      const ms = discoveryBudgetMs(rttMs)
      if (ms <= DISCOVERY_MS) return
      budget.phase.dispose()
      budget.phase = new Deadline(started + ms - performance.now(), opts.signal, what)
    })
  } finally {
    budget.phase.dispose()
  }
}

async function tcpBehaviour(
  opts: BehaviourOptions,
  started: number,
  budget: { readonly phase: Deadline },
  onRtt: (rttMs: number) => void,
): Promise<BehaviourResult> {
  let signal = budget.phase.signal
  let deadline = budget.phase.expiresAt
  const family = opts.family ?? probeFamily(opts.localAddress, opts.servers)
  const servers = await resolveServers(opts.servers, family, signal)
  const notes: string[] = []
  const conns: StunTcpClient[] = []
  const connect = async (to: Endpoint, local?: Endpoint) => {
    const c = await StunTcpClient.connect(to, {
      // Always bind explicitly: libuv sets SO_REUSEADDR in bind() only, and a socket that
      // connect() bound implicitly would keep its port from being shared by C2 and C3.
      ...(local
        ? { localAddress: local.host, localPort: local.port }
        : { localAddress: opts.localAddress ?? anyAddress(family) }),
      signal,
      timeoutMs: Math.min(remaining(deadline), 2000),
    })
    conns.push(c)
    return c
  }
  const bind = (c: StunTcpClient) => c.binding({ signal, timeoutMs: remaining(deadline) })

  try {
    let c1: StunTcpClient | undefined
    let first: BindingResult | undefined
    let lastError: unknown
    for (const server of servers.slice(0, Math.max(1, opts.maxServers ?? 2))) {
      try {
        c1 = await connect(server)
        first = await bind(c1)
        break
      } catch (err) {
        if (opts.signal?.aborted) throw abortReason(opts.signal)
        lastError = err
        if (signal.aborted) break
      }
    }
    if (!c1 || !first) {
      if (lastError !== undefined && !isNoAnswer(lastError) && !isConnectFailure(lastError))
        throw lastError
      return blockedResult(
        'tcp',
        family,
        servers[0] as Endpoint,
        { host: opts.localAddress ?? '', port: 0 },
        started,
        [`no TCP answer: ${(lastError as Error | undefined)?.message ?? 'deadline'}`],
      )
    }
    const server = first.server
    const rttMs = first.rttMs
    onRtt(rttMs)
    signal = budget.phase.signal
    deadline = budget.phase.expiresAt
    const local = c1.local
    const natted = !isUnmapped(first.mapped, local)
    let { endpoint: alternate, source } = alternateOf(first)
    if (!alternate && opts.alternateHint) {
      alternate = opts.alternateHint
      source = 'rfc5780'
      notes.push('TCP answers carry no alternate address: the UDP one was used')
    }

    // Fresh ports, so it runs beside tests II/III; it must be over before the delta samples.
    const filteringProbe: Promise<TcpFilteringProbe | undefined> = probeTcpFiltering({
      server,
      localAddress: opts.localAddress ?? anyAddress(family),
      rttMs,
      deadline,
      signal,
      ...(opts.timing ? { timing: opts.timing } : {}),
    }).catch((err: unknown) => {
      if (opts.signal?.aborted) throw err
      notes.push(`TCP filtering test failed: ${(err as Error).message}`)
      return undefined
    })
    const obs: { -readonly [K in keyof MappingObservations]: MappingObservations[K] } = {
      local,
      primary: first.mapped,
    }
    let secondServer = false
    if (natted) {
      const targets: Endpoint[] = alternate
        ? [{ host: alternate.host, port: server.port }, alternate]
        : servers.filter((s) => normalizeIp(s.host) !== normalizeIp(server.host)).slice(0, 1)
      if (!alternate) {
        secondServer = targets.length > 0
        source = targets.length > 0 ? 'second-server' : 'none'
        notes.push(
          targets.length > 0
            ? 'no alternate address: mapping compared across two servers (EIM or EDM)'
            : 'no alternate address and no second server: mapping unknown',
        )
      }
      const mapped = await sameLocalPort(targets, local, connect, bind, c1, notes)
      if (mapped[0]) obs.altIp = mapped[0]
      if (mapped[1]) obs.altIpPort = mapped[1]
    }
    const mappingDone = performance.now()
    const probe = await filteringProbe
    if (probe) notes.push(...probe.notes)
    if (opts.duringFilterWindow) await opts.duringFilterWindow({ server, natted, rttMs, signal })
    if (opts.signal?.aborted) throw abortReason(opts.signal)

    const measured = probe !== undefined && probe.filtering !== 'unknown'
    const filtering = measured ? probe.filtering : (opts.inferredFiltering ?? 'unknown')
    return buildBehaviourResult({
      transport: 'tcp',
      family,
      server,
      ...(alternate ? { alternate } : {}),
      alternateSource: source as AlternateSource,
      local,
      mapped: first.mapped,
      natted,
      mapping: decideMapping(obs, { secondServer }),
      filtering,
      filteringSource: measured ? 'measured' : opts.inferredFiltering ? 'inferred' : 'none',
      ...(probe && probe.synPolicy !== 'unknown' ? { synPolicy: probe.synPolicy } : {}),
      hairpin: null,
      observations: { mapping: obs, filtering: probe?.observations ?? {} },
      timings: {
        totalMs: performance.now() - started,
        mappingMs: mappingDone - started,
        ...(probe ? { filteringMs: probe.ms } : {}),
        rttMs,
      },
      notes,
    })
  } finally {
    await Promise.all(conns.map((c) => c.close()))
  }
}

/**
 * Bindings from `local`'s port to each target: all at once while C1 stays open; one at a time
 * (closing the previous connection first) when the OS refuses to share the port.
 */
async function sameLocalPort(
  targets: readonly Endpoint[],
  local: Endpoint,
  connect: (to: Endpoint, local?: Endpoint) => Promise<StunTcpClient>,
  bind: (c: StunTcpClient) => Promise<BindingResult>,
  c1: StunTcpClient,
  notes: string[],
): Promise<(StunAddress | undefined)[]> {
  const one = async (to: Endpoint) => (await bind(await connect(to, local))).mapped
  const together = await Promise.allSettled(targets.map(one))
  if (together.every((r) => r.status === 'fulfilled' || !isBindConflict(r.reason))) {
    if (together.some((r) => r.status === 'rejected'))
      notes.push('a TCP mapping test (II/III) got no answer')
    return together.map((r) => (r.status === 'fulfilled' ? r.value : undefined))
  }
  notes.push('the local port could not be shared: TCP mapping tests ran one at a time')
  await c1.close()
  const out: (StunAddress | undefined)[] = []
  for (const to of targets) {
    try {
      const c = await connect(to, local)
      out.push((await bind(c)).mapped)
      await c.close()
    } catch {
      out.push(undefined)
    }
  }
  return out
}

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: string } } | undefined)?.cause
  return cause?.code
}

/** EADDRINUSE / EADDRNOTAVAIL: the local port could not be used for another connection. */
function isBindConflict(err: unknown): boolean {
  const code = causeCode(err)
  return code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL'
}

/** A connection that was refused or reset: nobody serves STUN over TCP there. */
function isConnectFailure(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'STUN_SOCKET'
}
