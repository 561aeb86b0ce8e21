import type { Endpoint } from '@p2pd/interface'
import { withDeadline } from '@p2pd/interface'
import {
  AttrType,
  attr,
  type DecodedStunMessage,
  decodeUint32,
  findAttribute,
  ipFamily,
  type StunAttribute,
  StunMethod,
} from '@p2pd/stun'
import { TurnError } from '../errors.js'

/** The timing options an allocation's upkeep reads (a subset of the clients' options). */
export interface LifecycleOptions {
  readonly lifetimeSec?: number
  readonly refreshMarginMs?: number
  readonly permissionRefreshMs?: number
  readonly requestTimeoutMs?: number
}

/** What the upkeep needs from the client that owns the allocation. */
export interface LifecycleHost {
  /** One authenticated request on the client's control connection. */
  request(
    method: number,
    build: (transactionId: Uint8Array) => StunAttribute[],
    signal: AbortSignal,
  ): Promise<DecodedStunMessage>
  /** A background refresh succeeded. */
  refreshed(kind: 'allocation' | 'permission'): void
  /** A background refresh failed: the allocation is gone. */
  lose(error: TurnError): void
}

/**
 * The upkeep of one allocation, the same for UDP (`TurnClient`) and TCP (`TurnTcpClient`)
 * allocations: the granted lifetime and its refresh (at lifetime − margin, at least half-way),
 * the permitted peer IPs and their refresh, the deadline of every request, deallocation.
 * `stop()` ends every timer and aborts background requests at once.
 */
export class AllocationLifecycle {
  /** Lifetime (s) the server granted at the last Allocate/Refresh. */
  lifetimeSec = 0
  /** Peer IPs with a permission. */
  readonly permissions = new Set<string>()
  /** Aborted on close or loss: background requests stop waiting at once. */
  readonly #life = new AbortController()
  readonly #host: LifecycleHost
  readonly #opts: LifecycleOptions
  #refreshTimer: NodeJS.Timeout | undefined
  #permissionTimer: NodeJS.Timeout | undefined

  constructor(host: LifecycleHost, opts: LifecycleOptions) {
    this.#host = host
    this.#opts = opts
  }

  /** Aborted once the allocation is closed or lost. */
  get signal(): AbortSignal {
    return this.#life.signal
  }

  /** Takes LIFETIME from an Allocate/Refresh response and schedules the next refresh. */
  setLifetime(res: DecodedStunMessage): void {
    const lt = findAttribute(res, AttrType.Lifetime)
    let sec = this.#opts.lifetimeSec ?? 600
    if (lt && lt.value.length === 4) sec = decodeUint32(lt.value)
    this.lifetimeSec = sec
    clearTimeout(this.#refreshTimer)
    if (sec === 0 || this.#life.signal.aborted) return
    const ms = sec * 1000
    const at = Math.max(ms / 2, ms - (this.#opts.refreshMarginMs ?? 60_000))
    this.#refreshTimer = setTimeout(() => void this.#backgroundRefresh(), at)
    this.#refreshTimer.unref()
  }

  async #backgroundRefresh(): Promise<void> {
    try {
      await this.refresh()
      this.#host.refreshed('allocation')
    } catch (err) {
      this.#host.lose(
        new TurnError(
          'TURN_ALLOCATION_LOST',
          `allocation refresh failed: ${(err as Error).message}`,
          {
            cause: err,
            ...(err instanceof TurnError && err.errorCode !== undefined
              ? { errorCode: err.errorCode }
              : {}),
          },
        ),
      )
    }
  }

  /** Refresh now (LIFETIME `lifetimeSec`, default: the one asked at first); the new lifetime. */
  async refresh(options: { lifetimeSec?: number; signal?: AbortSignal } = {}): Promise<number> {
    const lifetime = options.lifetimeSec ?? this.#opts.lifetimeSec ?? 600
    const res = await this.within(options.signal, 'TURN refresh', (signal) =>
      this.#host.request(
        StunMethod.Refresh,
        () => [attr.uint32(AttrType.Lifetime, lifetime)],
        signal,
      ),
    )
    this.setLifetime(res)
    return this.lifetimeSec
  }

  /** CreatePermission for the IPs of `peers` (ports ignored), then kept refreshed. */
  async createPermission(
    peers: Endpoint | readonly Endpoint[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const list = (Array.isArray(peers) ? peers : [peers]) as readonly Endpoint[]
    for (const p of list) {
      if (ipFamily(p.host) === 0) throw new TurnError('TURN_BAD_INPUT', `not an IP: ${p.host}`)
    }
    await this.within(options.signal, 'TURN CreatePermission', (signal) =>
      this.#sendPermissions(
        list.map((p) => p.host),
        signal,
      ),
    )
    for (const p of list) this.permit(p.host)
  }

  /** Records a permission the server installed (CreatePermission, ChannelBind); keeps it. */
  permit(ip: string): void {
    this.permissions.add(ip)
    this.#armPermissionTimer()
  }

  async #sendPermissions(ips: readonly string[], signal: AbortSignal): Promise<void> {
    if (ips.length === 0) return
    await this.#host.request(
      StunMethod.CreatePermission,
      (tid) => ips.map((host) => attr.xorAddress(AttrType.XorPeerAddress, { host, port: 0 }, tid)),
      signal,
    )
  }

  #armPermissionTimer(): void {
    if (this.#permissionTimer || this.#life.signal.aborted) return
    this.#permissionTimer = setInterval(async () => {
      try {
        await this.within(this.#life.signal, 'TURN permission refresh', (s) =>
          this.#sendPermissions([...this.permissions], s),
        )
        this.#host.refreshed('permission')
      } catch (err) {
        this.#host.lose(
          new TurnError(
            'TURN_ALLOCATION_LOST',
            `permission refresh failed: ${(err as Error).message}`,
            { cause: err },
          ),
        )
      }
    }, this.#opts.permissionRefreshMs ?? 240_000)
    this.#permissionTimer.unref()
  }

  /** Runs one request under the request deadline (`requestTimeoutMs`), GC-safe. */
  within<T>(
    parent: AbortSignal | undefined,
    what: string,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return withDeadline(this.#opts.requestTimeoutMs ?? 5000, parent, work, what)
  }

  /** Ends the timers and aborts background requests (close or loss). */
  stop(): void {
    this.#life.abort(new TurnError('TURN_CLOSED', 'TURN client is closed'))
    clearTimeout(this.#refreshTimer)
    clearInterval(this.#permissionTimer)
    this.#refreshTimer = undefined
    this.#permissionTimer = undefined
  }

  /** Refresh with LIFETIME 0, best effort within 2 s (the server may be gone already). */
  async deallocate(): Promise<void> {
    try {
      await withDeadline(
        2000,
        undefined,
        (signal) =>
          this.#host.request(StunMethod.Refresh, () => [attr.uint32(AttrType.Lifetime, 0)], signal),
        'TURN deallocation',
      )
    } catch {
      // Unanswered: the allocation dies with its lifetime, or with the control connection.
    }
  }
}
