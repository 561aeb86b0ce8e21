import { EventEmitter } from 'node:events'
import { PortMapError } from './errors.js'
import type { MappingClient, MappingGrant, MapRequest, RequestOptions } from './types.js'

/** Events of a {@link PortMapping}. */
export interface PortMappingEvents {
  /** A renewal came back with another external address or port. */
  change: [grant: MappingGrant]
  /** Renewals failed until the mapping expired; it is no longer refreshed. */
  lost: [error: PortMapError]
  /** A renewal failed; it is retried while the mapping lasts. */
  error: [error: unknown]
}

/**
 * A live mapping: renewed at half its lifetime (RFC 6887 §11.2.1 says between 1/2 and 5/8),
 * retried on failure at half the time left, released by {@link PortMapping.release}. The timer
 * does not keep the process alive.
 */
export class PortMapping extends EventEmitter<PortMappingEvents> {
  private current: MappingGrant
  private expiresAt: number
  private timer: NodeJS.Timeout | undefined
  private released = false

  constructor(
    private readonly client: MappingClient,
    private readonly request: MapRequest,
    grant: MappingGrant,
  ) {
    super()
    this.current = grant
    this.expiresAt = Date.now() + grant.lifetimeSeconds * 1000
    this.schedule(grant.lifetimeSeconds * 500)
  }

  /** The grant now in force. */
  get grant(): MappingGrant {
    return this.current
  }

  /** Where peers reach us. */
  get external(): { host: string; port: number } {
    return { host: this.current.externalAddress, port: this.current.externalPort }
  }

  get method(): MappingGrant['method'] {
    return this.current.method
  }

  /** When the mapping runs out unless renewed (ms since the epoch). */
  get expires(): number {
    return this.expiresAt
  }

  /** Renews now (the scheduled renewals call this too). */
  async refresh(options: RequestOptions = {}): Promise<MappingGrant> {
    if (this.released) throw new PortMapError('PORTMAP_BAD_ARGUMENT', 'mapping already released')
    const { signal: _s, timeoutMs: _t, ...rest } = this.request
    const grant = await this.client.map({ ...rest, ...options })
    const moved =
      grant.externalAddress !== this.current.externalAddress ||
      grant.externalPort !== this.current.externalPort
    this.current = grant
    this.expiresAt = Date.now() + grant.lifetimeSeconds * 1000
    if (moved) this.emit('change', grant)
    return grant
  }

  /** Stops renewing and deletes the mapping on the gateway. Idempotent. */
  async release(options: RequestOptions = {}): Promise<void> {
    if (this.released) return
    this.released = true
    clearTimeout(this.timer)
    await this.client.unmap(this.current, options)
  }

  private schedule(delayMs: number): void {
    if (this.current.lifetimeSeconds === 0) return // permanent (a UPnP lease of 0): nothing to renew
    this.timer = setTimeout(() => void this.renew(), Math.max(1000, delayMs))
    this.timer.unref()
  }

  private async renew(): Promise<void> {
    if (this.released) return
    try {
      const grant = await this.refresh()
      if (!this.released) this.schedule(grant.lifetimeSeconds * 500)
    } catch (err) {
      if (this.released) return
      if (this.listenerCount('error') > 0) this.emit('error', err)
      const left = this.expiresAt - Date.now()
      if (left <= 1000) {
        this.released = true
        this.emit(
          'lost',
          new PortMapError(
            'PORTMAP_LOST',
            `mapping ${describe(this.current)} expired: renewals failed`,
            {
              cause: err,
            },
          ),
        )
        return
      }
      this.schedule(left / 2)
    }
  }
}

/** `tcp 10.1.0.2:4000 → 198.18.1.1:4000 (pcp)`, for logs. */
export function describe(grant: MappingGrant): string {
  return (
    `${grant.protocol} ${grant.internalAddress}:${grant.internalPort} → ` +
    `${grant.externalAddress}:${grant.externalPort} (${grant.method} via ${grant.gateway})`
  )
}
