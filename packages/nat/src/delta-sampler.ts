import { randomInt } from 'node:crypto'
import { abortReason, Deadline, type Endpoint, isP2pdError } from '@p2pd/interface'
import { StunTcpClient, StunUdpClient } from '@p2pd/stun'
import { classifyDelta, type DeltaSample, type DeltaVerdict } from './delta-classify.js'
import { deltaPortPlan } from './delta-plan.js'
import { anyAddress } from './local-ips.js'
import { familyOf } from './servers.js'
import { remaining, rtoFor } from './timing.js'
import type { Transport } from './types.js'

export interface DeltaOptions {
  /** One server (its primary address): every sample goes there, so only allocation varies. */
  readonly server: Endpoint
  readonly transport: Transport
  readonly localAddress?: string
  readonly family?: 4 | 6
  /** Number of samples (default 9: three runs of three). */
  readonly samples?: number
  /** Consecutive local ports per run (default 3). */
  readonly runLength?: number
  /** Where the local ports are picked (default [32768, 60999], Linux's ephemeral range). */
  readonly localPortRange?: readonly [number, number]
  /** RTT hint (ms) for retransmission and per-sample deadlines (default 100). */
  readonly rttMs?: number
  readonly signal?: AbortSignal
  /** Deadline of all samples together (default 3,000 ms). */
  readonly timeoutMs?: number
}

/** A delta measurement: the verdict, the samples (in allocation order) and its duration. */
export interface DeltaResult extends DeltaVerdict {
  readonly transport: Transport
  readonly observations: readonly (DeltaSample | undefined)[]
  readonly ms: number
}

/**
 * Takes serial samples from fresh local sockets to one server and classifies them. "Serial"
 * means each new mapping is created only after the previous one is known to exist: over UDP
 * each Binding completes before the next socket sends; over TCP the next connection starts
 * once the previous one is established (the NAT allocated at its SYN), while the Bindings
 * overlap. The NAT's allocation order is thus the list order (P2PD's D3).
 */
export async function measureDelta(opts: DeltaOptions): Promise<DeltaResult> {
  const started = performance.now()
  const observations = await sampleDelta(opts)
  return {
    ...classifyDelta(observations),
    transport: opts.transport,
    observations,
    ms: performance.now() - started,
  }
}

/** The raw samples of {@link measureDelta}; `undefined` where a sample got no answer. */
export async function sampleDelta(opts: DeltaOptions): Promise<(DeltaSample | undefined)[]> {
  const bound = new Deadline(opts.timeoutMs ?? 3000, opts.signal, 'delta sampling')
  try {
    return await samples(opts, bound.signal)
  } finally {
    bound.dispose()
  }
}

async function samples(
  opts: DeltaOptions,
  signal: AbortSignal,
): Promise<(DeltaSample | undefined)[]> {
  const timeoutMs = opts.timeoutMs ?? 3000
  const deadline = performance.now() + timeoutMs
  const family = opts.family ?? familyOf(opts.localAddress ?? opts.server.host)
  const range = opts.localPortRange ?? [32768, 60999]
  const plan = deltaPortPlan(opts.samples ?? 9, opts.runLength ?? 3, range)
  const rtt = opts.rttMs ?? 100
  const perSample = () => Math.min(remaining(deadline), Math.max(500, Math.round(8 * rtt)))
  const host = opts.localAddress ?? anyAddress(family)
  const out: (DeltaSample | undefined)[] = []

  if (opts.transport === 'udp') {
    for (const port of plan) {
      if (signal.aborted) break
      const client = await openUdp(host, family, port, range, signal)
      try {
        const r = await client.binding(opts.server, {
          signal,
          timeoutMs: perSample(),
          rtoMs: rtoFor(rtt),
        })
        out.push({ local: client.local.port, mapped: r.mapped.port })
      } catch (err) {
        if (opts.signal?.aborted) throw abortReason(opts.signal)
        if (!isP2pdError(err)) throw err
        out.push(undefined)
      } finally {
        await client.close()
      }
    }
    return out
  }

  const bindings: Promise<void>[] = []
  for (const [i, port] of plan.entries()) {
    if (signal.aborted) break
    out.push(undefined)
    let conn: StunTcpClient
    try {
      conn = await connectTcp(opts.server, host, port, range, signal, perSample())
    } catch (err) {
      if (opts.signal?.aborted) throw abortReason(opts.signal)
      if (!isP2pdError(err)) throw err
      continue
    }
    bindings.push(
      conn
        .binding({ signal, timeoutMs: perSample() })
        .then((r) => {
          out[i] = { local: conn.local.port, mapped: r.mapped.port }
        })
        .catch(() => {})
        .finally(() => conn.close()),
    )
  }
  await Promise.all(bindings)
  if (opts.signal?.aborted) throw abortReason(opts.signal)
  return out
}

/** Binds `port`, or (taken) another random port of the range; 3 tries. */
async function openUdp(
  host: string,
  family: 4 | 6,
  port: number,
  range: readonly [number, number],
  signal: AbortSignal,
): Promise<StunUdpClient> {
  let lastError: unknown
  for (let i = 0; i < 3; i++) {
    try {
      return await StunUdpClient.open({
        localAddress: host,
        localPort: i === 0 ? port : randomInt(range[0], range[1] + 1),
        type: family === 6 ? 'udp6' : 'udp4',
        signal,
      })
    } catch (err) {
      lastError = err
    }
  }
  throw lastError
}

async function connectTcp(
  server: Endpoint,
  host: string,
  port: number,
  range: readonly [number, number],
  signal: AbortSignal,
  timeoutMs: number,
): Promise<StunTcpClient> {
  let lastError: unknown
  for (let i = 0; i < 3; i++) {
    try {
      return await StunTcpClient.connect(server, {
        localAddress: host,
        localPort: i === 0 ? port : randomInt(range[0], range[1] + 1),
        signal,
        timeoutMs,
      })
    } catch (err) {
      lastError = err
      const code = (err as { cause?: { code?: string } }).cause?.code
      if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL') break
    }
  }
  throw lastError
}
