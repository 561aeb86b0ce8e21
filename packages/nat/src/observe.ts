import { Deadline, type Endpoint } from '@p2pd/interface'
import { type BindingResult, type StunAddress, StunTcpClient, StunUdpClient } from '@p2pd/stun'
import { anyAddress } from './local-ips.js'
import type { ObservedPort } from './predict.js'
import { probeFamily } from './servers.js'
import type { Transport } from './types.js'

export interface ObserveOptions {
  /** The STUN server (an IP endpoint, or `host:port`). */
  readonly server: Endpoint | string
  readonly transport: Transport
  readonly localAddress?: string
  /** Local port to bind (default any). TCP reuses a port with SO_REUSEADDR. */
  readonly localPort?: number
  readonly signal?: AbortSignal
  /** Deadline (default 2,000 ms). */
  readonly timeoutMs?: number
}

/**
 * A socket whose public mapping we just observed, kept open so the mapping stays alive:
 * the UDP socket, or the TCP STUN connection (P2PD's preloaded high-port mapping).
 * Close it once the punch sockets exist.
 */
export class ObservedMapping implements ObservedPort {
  private constructor(
    readonly transport: Transport,
    readonly server: Endpoint,
    readonly local: Endpoint,
    readonly mapped: StunAddress,
    /** `performance.now()` of the answer. */
    readonly at: number,
    readonly rttMs: number,
    /** The live socket: a `StunUdpClient` or a `StunTcpClient`. */
    readonly client: StunUdpClient | StunTcpClient,
  ) {}

  /** Opens a socket, asks `server` for its mapping and keeps the socket open. */
  static async open(opts: ObserveOptions): Promise<ObservedMapping> {
    const timeoutMs = opts.timeoutMs ?? 2000
    const deadline = new Deadline(timeoutMs, opts.signal, 'STUN mapping observation')
    try {
      return await ObservedMapping.#open(opts, timeoutMs, deadline.signal)
    } finally {
      deadline.dispose()
    }
  }

  static async #open(
    opts: ObserveOptions,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<ObservedMapping> {
    const family = probeFamily(opts.localAddress, [opts.server])
    if (opts.transport === 'tcp') {
      const c = await StunTcpClient.connect(opts.server, {
        // An explicit bind (wildcard by default) gets SO_REUSEADDR from libuv, so the punch
        // may later bind this same local port while the STUN connection keeps the mapping.
        localAddress: opts.localAddress ?? anyAddress(family),
        ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}),
        signal,
        timeoutMs,
      })
      try {
        const r = await c.binding({ signal, timeoutMs })
        return new ObservedMapping(
          'tcp',
          r.server,
          c.local,
          r.mapped,
          performance.now(),
          r.rttMs,
          c,
        )
      } catch (err) {
        await c.close()
        throw err
      }
    }
    const u = await StunUdpClient.open({
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}),
      type: family === 6 ? 'udp6' : 'udp4',
      signal,
    })
    try {
      const r = await u.binding(opts.server, { signal, timeoutMs, rtoMs: 200 })
      return new ObservedMapping('udp', r.server, u.local, r.mapped, performance.now(), r.rttMs, u)
    } catch (err) {
      await u.close()
      throw err
    }
  }

  /** Asks again on the same socket: keeps the mapping alive and returns what it is now. */
  async refresh(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ObservedMapping> {
    const timeoutMs = opts.timeoutMs ?? 2000
    const deadline = new Deadline(timeoutMs, opts.signal, 'STUN mapping refresh')
    const signal = deadline.signal
    let r: BindingResult
    try {
      r =
        this.client instanceof StunTcpClient
          ? await this.client.binding({ signal, timeoutMs })
          : await this.client.binding(this.server, { signal, timeoutMs, rtoMs: 200 })
    } finally {
      deadline.dispose()
    }
    return new ObservedMapping(
      this.transport,
      this.server,
      this.local,
      r.mapped,
      performance.now(),
      r.rttMs,
      this.client,
    )
  }

  /** Closes the socket (the NAT mapping then ages out). */
  close(): Promise<void> {
    return this.client.close()
  }
}

/** Opens an {@link ObservedMapping}: the "observed" input of `predictPorts`. */
export function observeMapping(opts: ObserveOptions): Promise<ObservedMapping> {
  return ObservedMapping.open(opts)
}

/**
 * Re-probes right before a punch (P2PD's P6: predictions go stale with any other traffic).
 * `fresh` (default): a new socket and a new mapping — for sequential NATs the newest counter
 * value, so `predictPorts` can start again at `attempt: 0`; the old socket is closed. `same`:
 * the same socket is asked again (EIM NATs: keeps the mapping alive and confirms it).
 */
export async function reprobe(
  previous: ObservedMapping,
  opts: { mode?: 'fresh' | 'same'; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<ObservedMapping> {
  if (opts.mode === 'same') return previous.refresh(opts)
  const next = await ObservedMapping.open({
    server: previous.server,
    transport: previous.transport,
    localAddress: previous.local.host,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  })
  await previous.close()
  return next
}
