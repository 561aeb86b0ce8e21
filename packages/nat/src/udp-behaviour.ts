import { abortReason, Deadline, type Endpoint, isP2pdError, TimeoutError } from '@p2pd/interface'
import {
  type BindingResult,
  bindingSourceCheck,
  type ChangeRequest,
  createMessage,
  encodeMessage,
  normalizeIp,
  type StunAddress,
  StunClass,
  StunMethod,
  StunUdpClient,
  sameEndpoint,
} from '@p2pd/stun'
import type { BehaviourOptions } from './behaviour-options.js'
import { blockedResult, buildBehaviourResult } from './behaviour-result.js'
import { decideFiltering, decideMapping, isUnmapped } from './decision.js'
import { firstAnswer } from './first-answer.js'
import { anyAddress, localAddresses } from './local-ips.js'
import { alternateOf, probeFamily, resolveServers } from './servers.js'
import { DEFAULT_TIMING, negativeWaitFor, remaining, rtoFor } from './timing.js'
import type {
  AlternateSource,
  BehaviourResult,
  FilteringObservations,
  MappingObservations,
} from './types.js'

/**
 * RFC 5780 behaviour discovery over UDP for one local address:
 *
 * 1. Test I from socket S1 to the primary address of up to `maxServers` servers at once.
 * 2. Then, concurrently: tests II/III from S1 (mapping); the two CHANGE-REQUEST tests from a
 *    fresh socket S2 that only ever talks to the primary (so no test opens its filter);
 *    hairpinning from S3 to S1's public mapping; and the `duringFilterWindow` hook.
 *
 * Mapping is decided first, filtering second, and negative answers wait an RTT-scaled window.
 * No reply to test I gives `natType` 7 (blocked) rather than an error.
 */
export async function discoverUdpBehaviour(opts: BehaviourOptions): Promise<BehaviourResult> {
  const bound = new Deadline(opts.timeoutMs ?? 3000, opts.signal, 'UDP behaviour discovery')
  try {
    return await udpBehaviour(opts, bound.signal)
  } finally {
    bound.dispose()
  }
}

async function udpBehaviour(opts: BehaviourOptions, signal: AbortSignal): Promise<BehaviourResult> {
  const started = performance.now()
  const timeoutMs = opts.timeoutMs ?? 3000
  const deadline = started + timeoutMs
  const family = opts.family ?? probeFamily(opts.localAddress, opts.servers)
  const timing = { ...DEFAULT_TIMING, ...opts.timing }
  const servers = await resolveServers(opts.servers, family, signal)
  const notes: string[] = []
  const localIps = opts.localAddress ? [] : (opts.localIps ?? localAddresses())

  let hairpinId: Buffer | undefined
  let hairpinSeen: (() => void) | undefined
  const sockets: StunUdpClient[] = []
  const open = async (onUnmatched?: (data: Buffer) => void) => {
    const c = await StunUdpClient.open({
      localAddress: opts.localAddress ?? anyAddress(family),
      type: family === 6 ? 'udp6' : 'udp4',
      signal,
      ...(onUnmatched ? { onUnmatched } : {}),
    })
    sockets.push(c)
    return c
  }

  try {
    const s1 = await open((data) => {
      if (hairpinId && data.length >= 20 && data.subarray(8, 20).equals(hairpinId)) hairpinSeen?.()
    })
    let answers: BindingResult[]
    try {
      answers = await firstAnswer(
        servers.slice(0, Math.max(1, opts.maxServers ?? 2)),
        (server, sig) =>
          s1.binding(server, {
            signal: sig,
            timeoutMs: remaining(deadline),
            rtoMs: timing.initialRtoMs,
          }),
        signal,
      )
    } catch (err) {
      if (opts.signal?.aborted) throw abortReason(opts.signal)
      if (isNoAnswer(err)) {
        return blockedResult('udp', family, servers[0] as Endpoint, s1.local, started, [
          `no UDP answer from ${servers.length} server(s): ${(err as Error).message}`,
        ])
      }
      throw err
    }
    const first = answers[0] as BindingResult
    const mappingDone = performance.now()
    const rttMs = first.rttMs
    const rto = rtoFor(rttMs)
    const server = first.server
    let { endpoint: alternate, source } = alternateOf(first)
    let legacy = false
    if (!alternate) {
      // RFC 3489 fallback: a classic server may only say CHANGED-ADDRESS to a classic request.
      const classic = await s1
        .binding(server, { legacy: true, signal, timeoutMs: negativeWaitFor(rttMs, timing) })
        .catch(() => undefined)
      const alt = classic && alternateOf(classic)
      if (alt?.endpoint) {
        alternate = alt.endpoint
        source = alt.source
        legacy = true
        notes.push('server has no OTHER-ADDRESS: RFC 3489 CHANGED-ADDRESS used')
      }
    }
    const local = s1.local
    const natted = !isUnmapped(first.mapped, local, localIps)
    const window = negativeWaitFor(rttMs, timing)

    // --- mapping (tests II and III), from S1 ---
    const mappingObs: { -readonly [K in keyof MappingObservations]: MappingObservations[K] } = {
      local,
      primary: first.mapped,
    }
    let secondServer = false
    const mappingTests = async () => {
      if (!natted) return
      const ask = (to: Endpoint) =>
        s1
          .binding(to, {
            legacy,
            signal,
            timeoutMs: Math.min(remaining(deadline), Math.max(1000, Math.round(10 * rttMs))),
            rtoMs: rto,
          })
          .then((r) => r.mapped)
          .catch(() => undefined)
      if (alternate) {
        const [a, b] = await Promise.all([
          ask({ host: alternate.host, port: server.port }),
          ask(alternate),
        ])
        if (a) mappingObs.altIp = a
        if (b) mappingObs.altIpPort = b
        if (!a || !b) notes.push('a mapping test (II/III) got no answer')
        return
      }
      const other =
        answers.find((r) => normalizeIp(r.server.host) !== normalizeIp(server.host))?.mapped ??
        (await secondServerMapping(servers, server, ask))
      if (other) {
        mappingObs.altIp = other
        secondServer = true
        source = 'second-server'
        notes.push('no alternate address: mapping compared across two servers (EIM or EDM)')
      } else {
        notes.push('no alternate address and no second server: mapping unknown')
      }
    }

    // --- filtering, from S2 (talks to the primary only) ---
    const filteringObs: { -readonly [K in keyof FilteringObservations]: FilteringObservations[K] } =
      {}
    let filteringMs: number | undefined
    const filteringTests = async () => {
      if (!alternate) return
      const s2 = await open()
      const probe = (change: ChangeRequest) =>
        changeProbe(s2, server, change, { legacy, window, rto, signal })
      const [ipPort, port] = await Promise.all([
        probe({ changeIp: true, changePort: true }),
        probe({ changeIp: false, changePort: true }),
      ])
      if (ipPort === 'ignored' || port === 'ignored')
        notes.push('the server ignored CHANGE-REQUEST: filtering unknown')
      if (typeof ipPort === 'boolean') filteringObs.changeIpPort = ipPort
      if (typeof port === 'boolean') filteringObs.changePort = port
      filteringMs = performance.now() - started
    }

    // --- hairpinning, from S3 to S1's public mapping ---
    let hairpin: boolean | null = null
    let hairpinMs: number | undefined
    const hairpinTest = async () => {
      if (!natted || opts.hairpin === false) return
      const s3 = await open()
      const msg = createMessage({ method: StunMethod.Binding, cls: StunClass.Request })
      hairpinId = Buffer.from(msg.transactionId)
      const bytes = encodeMessage(msg, { fingerprint: true })
      hairpin = await new Promise<boolean>((resolve) => {
        let timer: NodeJS.Timeout | undefined
        const end = (v: boolean) => {
          clearTimeout(timer)
          clearTimeout(stop)
          signal.removeEventListener('abort', onAbort)
          resolve(v)
        }
        const onAbort = () => end(false)
        const stop = setTimeout(() => end(false), Math.min(window, remaining(deadline)))
        hairpinSeen = () => end(true)
        signal.addEventListener('abort', onAbort, { once: true })
        const send = () => {
          s3.send(bytes, first.mapped).catch(() => {})
          timer = setTimeout(send, rto)
        }
        send()
      })
      hairpinMs = performance.now() - started
    }

    const hook = async () => {
      await mappingTests()
      if (opts.duringFilterWindow) {
        await opts.duringFilterWindow({ server, natted, rttMs, signal })
      }
    }
    await Promise.all([hook(), filteringTests(), hairpinTest()])
    if (opts.signal?.aborted) throw abortReason(opts.signal)

    const mapping = decideMapping(mappingObs, { localIps, secondServer })
    return buildBehaviourResult({
      transport: 'udp',
      family,
      server,
      ...(alternate ? { alternate } : {}),
      alternateSource: source as AlternateSource,
      local,
      mapped: first.mapped,
      natted,
      mapping,
      filtering: decideFiltering(filteringObs),
      filteringSource: filteringObs.changeIpPort === undefined ? 'none' : 'measured',
      hairpin,
      observations: { mapping: mappingObs, filtering: filteringObs },
      timings: {
        totalMs: performance.now() - started,
        mappingMs: mappingDone - started,
        ...(filteringMs !== undefined ? { filteringMs } : {}),
        ...(hairpinMs !== undefined ? { hairpinMs } : {}),
        rttMs,
      },
      notes,
    })
  } finally {
    await Promise.all(sockets.map((s) => s.close()))
  }
}

/** True for the errors that mean "nobody answered" (as opposed to a local failure). */
export function isNoAnswer(err: unknown): boolean {
  return (
    err instanceof TimeoutError ||
    isP2pdError(err, 'STUN_NO_RESPONSE') ||
    isP2pdError(err, 'ABORTED') ||
    isP2pdError(err, 'STUN_ERROR_RESPONSE') ||
    isP2pdError(err, 'STUN_BAD_RESPONSE')
  )
}

/** The mapping towards another server of the list (another IP), when test I did not ask it. */
async function secondServerMapping(
  servers: readonly Endpoint[],
  primary: Endpoint,
  ask: (to: Endpoint) => Promise<StunAddress | undefined>,
): Promise<StunAddress | undefined> {
  const other = servers.find((s) => normalizeIp(s.host) !== normalizeIp(primary.host))
  return other ? ask(other) : undefined
}

/**
 * One CHANGE-REQUEST probe: `true` when the changed reply arrived within `window`, `false`
 * on silence, `'ignored'` when the reply came back unchanged (the server does not honour
 * CHANGE-REQUEST) or as an error response.
 */
async function changeProbe(
  client: StunUdpClient,
  server: Endpoint,
  change: ChangeRequest,
  o: { legacy: boolean; window: number; rto: number; signal: AbortSignal },
): Promise<boolean | 'ignored'> {
  const expected = bindingSourceCheck(server, change)
  let ignored = false
  try {
    await client.binding(server, {
      changeRequest: change,
      legacy: o.legacy,
      signal: o.signal,
      timeoutMs: o.window,
      rtoMs: o.rto,
      expectFrom: (from) => {
        if (sameEndpoint(from, server)) {
          ignored = true
          return false
        }
        return expected(from)
      },
    })
    return true
  } catch (err) {
    if (ignored || isP2pdError(err, 'STUN_ERROR_RESPONSE')) return 'ignored'
    return false
  }
}
