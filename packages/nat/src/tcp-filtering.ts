import { createServer, type Server } from 'node:net'
import type { Endpoint } from '@p2pd/interface'
import {
  decodeTcpCallbackResult,
  encodeTcpCallback,
  normalizeIp,
  StunError,
  StunTcpClient,
  TCP_CALLBACK,
  TCP_CALLBACK_MAX_MS,
  TCP_CALLBACK_RESULT,
  type TcpCallbackOutcome,
} from '@p2pd/stun'
import { decideFiltering } from './decision.js'
import { negativeWaitFor, type ProbeTiming, remaining } from './timing.js'
import type { FilteringBehaviour, FilteringObservations, SynPolicy } from './types.js'

/** What {@link probeTcpFiltering} measured. */
export interface TcpFilteringProbe {
  /** `unknown` when the server does not dial back (no TCP-CALLBACK support: coturn). */
  readonly filtering: FilteringBehaviour
  readonly synPolicy: SynPolicy
  readonly observations: FilteringObservations
  /** Outcome per test as the server reported it (undefined: not answered). */
  readonly outcomes: {
    readonly changeIpPort?: TcpCallbackOutcome
    readonly changePort?: TcpCallbackOutcome
    /** The SYN to a port nothing mapped (it decides the SYN policy). */
    readonly unmapped?: TcpCallbackOutcome
  }
  readonly ms: number
  readonly notes: readonly string[]
}

export interface TcpFilteringOptions {
  readonly server: Endpoint
  /** The address to bind and listen on (a wildcard is fine). */
  readonly localAddress: string
  readonly rttMs: number
  /** `performance.now()` value the probe must finish by. */
  readonly deadline: number
  readonly signal: AbortSignal
  readonly timing?: ProbeTiming
}

/**
 * TCP filtering and SYN policy, measured: from a fresh local port (so no earlier flow opened
 * the filter), listen on that port and ask the server (TCP-CALLBACK) to dial the mapped address
 * from its other IP and port, and, on a second fresh port, from its other port only. A dial
 * that connects passed the filter; one refused (we were listening, so the RST is the NAT's or
 * firewall's) or timed out did not, and says which SYN policy the filter has. The two tests
 * run at once: an inbound SYN creates no filter state for the other test's mapping.
 */
export async function probeTcpFiltering(opts: TcpFilteringOptions): Promise<TcpFilteringProbe> {
  const started = performance.now()
  const notes: string[] = []
  // A SYN that gets through completes in one server↔client round trip; silence means dropped.
  const waitMs = Math.round(
    Math.min(
      TCP_CALLBACK_MAX_MS,
      Math.max(negativeWaitFor(opts.rttMs, opts.timing), 3 * opts.rttMs + 250),
    ),
  )
  const [ipPort, port, unmapped] = await Promise.all([
    dialBackTest(opts, { changeIp: true, changePort: true }, waitMs, notes),
    dialBackTest(opts, { changeIp: false, changePort: true }, waitMs, notes),
    // A SYN to a public port nothing mapped: what a punch's first SYN meets when it arrives
    // before the peer's own SYN has left (an endpoint-independent filter too refuses it).
    dialBackTest(opts, { changeIp: true, changePort: true, port: unmappedPort() }, waitMs, notes),
  ])
  const observations: { -readonly [K in keyof FilteringObservations]: FilteringObservations[K] } =
    {}
  const passed = (o: TcpCallbackOutcome | undefined) =>
    o === 'connected' ? true : o === 'refused' || o === 'timeout' ? false : undefined
  const a = passed(ipPort)
  const b = passed(port)
  if (a !== undefined) observations.changeIpPort = a
  if (b !== undefined) observations.changePort = b
  // Passing from another IP implies passing from another port of the same IP.
  if (a === true && b === undefined) observations.changePort = true
  const filtered = [unmapped, ipPort, port].find((o) => o === 'refused' || o === 'timeout')
  const synPolicy: SynPolicy =
    filtered === 'refused' ? 'rst' : filtered === 'timeout' ? 'drop' : 'unknown'
  if (ipPort === undefined && port === undefined)
    notes.push('the server does not dial back (no TCP-CALLBACK): TCP filtering not measured')
  for (const [what, o] of [
    ['other IP and port', ipPort],
    ['other port', port],
    ['other IP to an unmapped port', unmapped],
  ] as const) {
    if (o === 'unavailable' || o === 'limited' || o === 'unreachable')
      notes.push(`TCP dial-back from the server's ${what}: ${o}`)
  }
  return {
    filtering: decideFiltering(observations),
    synPolicy,
    observations,
    outcomes: {
      ...(ipPort ? { changeIpPort: ipPort } : {}),
      ...(port ? { changePort: port } : {}),
      ...(unmapped ? { unmapped } : {}),
    },
    ms: performance.now() - started,
    notes,
  }
}

/** A public port that is very likely mapped to nothing (above the usual ephemeral pools). */
function unmappedPort(): number {
  return 61000 + Math.floor(Math.random() * 4000)
}

/**
 * One dial-back from a fresh local port we listen on (or, with `change.port`, to that port of
 * our public IP); undefined when not answered.
 */
async function dialBackTest(
  opts: TcpFilteringOptions,
  change: { changeIp: boolean; changePort: boolean; port?: number },
  waitMs: number,
  notes: string[],
): Promise<TcpCallbackOutcome | undefined> {
  let client: StunTcpClient | undefined
  let listener: Server | undefined
  let accepted = false
  try {
    // Bound explicitly (SO_REUSEADDR), so the listener below may share the port while this
    // connection is open (Linux allows it while nothing else listens there).
    client = await StunTcpClient.connect(opts.server, {
      localAddress: opts.localAddress,
      localPort: 0,
      signal: opts.signal,
      timeoutMs: Math.min(remaining(opts.deadline), 2000),
    })
    const local = client.local
    if (change.port === undefined) {
      listener = await listen({ host: opts.localAddress, port: local.port }, () => {
        accepted = true
      })
    }
    const result = await client.binding({
      attributes: [
        { type: TCP_CALLBACK, value: encodeTcpCallback({ ...change, timeoutMs: waitMs }) },
      ],
      signal: opts.signal,
      // The server answers once its dial is over: after at most `waitMs`, plus a round trip.
      timeoutMs: Math.max(
        1,
        Math.min(remaining(opts.deadline), waitMs + Math.max(1000, 4 * opts.rttMs + 500)),
      ),
    })
    const raw = result.attributes.others.find((x) => x.type === TCP_CALLBACK_RESULT)
    if (!raw) return undefined
    const outcome = decodeTcpCallbackResult(raw.value).outcome
    // Our listener's view wins over the server's: an accept is a pass whatever it reports.
    return accepted ? 'connected' : outcome
  } catch (err) {
    if (opts.signal.aborted && !(err instanceof StunError)) throw err
    notes.push(`TCP dial-back test failed: ${(err as Error).message}`)
    return undefined
  } finally {
    listener?.close()
    await client?.close()
  }
}

/** Listens on `at` and counts a connection from anyone as a pass (then drops it). */
function listen(at: Endpoint, onAccept: () => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      onAccept()
      s.destroy()
    })
    server.once('error', reject)
    server.listen({ host: normalizeIp(at.host), port: at.port }, () => {
      server.off('error', reject)
      server.on('error', () => {})
      resolve(server)
    })
  })
}
