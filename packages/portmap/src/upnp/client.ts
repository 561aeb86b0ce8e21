import { randomInt } from 'node:crypto'
import { Agent } from 'node:http'
import { isIP } from 'node:net'
import { AbortError, Deadline, throwIfAborted } from '@p2pd/interface'
import { PortMapError } from '../errors.js'
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type MappingClient,
  type MappingGrant,
  type MapRequest,
  type RequestOptions,
} from '../types.js'
import { checkLifetime, checkPort, checkProtocol } from '../validate.js'
import { parseDescription, type WanService } from './description.js'
import { httpExchange } from './http.js'
import { type SoapArguments, type SoapResult, soapCall } from './soap.js'
import { discoverIgd, type SsdpTarget } from './ssdp.js'

/** Options of {@link upnpClient}. */
export interface UpnpClientOptions {
  /** The root description URL (`http://…/rootDesc.xml`); skips SSDP discovery. */
  readonly location?: string | URL
  /** The gateway's IP: SSDP answers from any other address are ignored. */
  readonly gateway?: string
  /**
   * Our LAN IPv4 address: SSDP binds to it and multicasts through its interface, and mappings
   * forward to it. Default: for SSDP, the address the routing table picks toward `gateway`
   * (else the system's multicast route); for mappings, the local address of the HTTP
   * connection to the gateway.
   */
  readonly localAddress?: string
  /** How long SSDP discovery waits for an answer (default 1500 ms; within the request deadline). */
  readonly ssdpTimeoutMs?: number
  /**
   * Where M-SEARCH goes (default 239.255.255.250:1900). For tests: a loopback responder, so
   * that nothing is multicast.
   */
  readonly ssdpTarget?: SsdpTarget
  /** `NewPortMappingDescription` when a request has none (default `p2pd`). */
  readonly description?: string
}

/** A {@link MappingClient} for one UPnP Internet Gateway Device. */
export interface UpnpClient extends MappingClient {
  readonly method: 'upnp'
  map(request: MapRequest): Promise<MappingGrant>
  unmap(grant: MappingGrant, options?: RequestOptions): Promise<void>
  /** The gateway's external IPv4 address (`GetExternalIPAddress`). */
  externalAddress(options?: RequestOptions): Promise<string>
  close(): void
}

/** Default SSDP discovery window. */
export const DEFAULT_SSDP_TIMEOUT_MS = 1500
/** Default `NewPortMappingDescription`. */
export const DEFAULT_MAPPING_DESCRIPTION = 'p2pd'

/** Bound on a root device description (miniupnpd's is about 3 KiB). */
const MAX_DESCRIPTION_BYTES = 256 * 1024
/** Longest mapping description we send. */
const MAX_MAPPING_DESCRIPTION = 256
/** How many other external ports we try after `ConflictInMappingEntry`. */
const MAX_CONFLICT_RETRIES = 2
/** IGD:2 devices cap (and turn 0 into) one week (WANIPConnection:2, NewLeaseDuration). */
const IGD2_MAX_LEASE_SECONDS = 604_800
/** HTTP connections at once to the gateway; callers beyond it queue (within their deadlines). */
const MAX_SOCKETS = 8
/** Characters XML 1.0 forbids, which a gateway's parser would choke on. */
const XML_ILLEGAL = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/

const ERR_CONFLICT = 718
const ERR_ONLY_PERMANENT_LEASES = 725
const ERR_SAME_PORT_VALUES_REQUIRED = 724
const ERR_NO_SUCH_ENTRY = 714
const ERR_INVALID_ACTION = 401
const ERR_OPTIONAL_ACTION_NOT_IMPLEMENTED = 602

/**
 * Creates a UPnP IGD port-mapping client (method `'upnp'`).
 *
 * The gateway is found by SSDP (unless `location` is given), its root description is read
 * once for the WAN connection service (WANIPConnection:2, then :1, then WANPPPConnection:1),
 * and that service is cached. If a control request then fails at the HTTP level, the cache is
 * dropped and the request is tried once more against a fresh description: miniupnpd listens
 * on a random HTTP port, which changes when it restarts.
 *
 * `map` asks `GetExternalIPAddress` first (a gateway without one — WAN down — yields
 * `PORTMAP_BAD_GRANT` and no mapping), then `AddPortMapping`, and handles these refusals:
 * - 718 `ConflictInMappingEntry` (the port is another host's): up to two more tries, with
 *   `AddAnyPortMapping` on IGD:2 (the gateway picks the port) or else a random external port
 *   in 1024–65535;
 * - 725 `OnlyPermanentLeasesSupported` (some IGD:1 devices): retried with lease 0, i.e. a
 *   permanent mapping. The grant then reports the *requested* lifetime, so the mapper keeps
 *   refreshing it as usual and deletes it on release; were the process to die, the mapping
 *   would stay on the gateway until it reboots;
 * - 724 `SamePortValuesRequired`: retried with the external port equal to the internal one.
 *
 * UPnP does not return the lease it granted: the grant's lifetime is the requested one, capped
 * at one week on IGD:2 devices (which also turn 0 into one week). A requested lifetime of 0
 * asks an IGD:1 device for a permanent mapping and is reported as 0.
 *
 * `unmap` sends `DeletePortMapping`; a mapping the gateway no longer has (714) counts as
 * deleted, and so does one that `GetSpecificPortMappingEntry` shows now forwarding elsewhere
 * (the same host asked for the same external port for another internal port: IGDs overwrite
 * the entry instead of refusing, so that entry is not ours to delete).
 *
 * Every call has the request's deadline (default 3000 ms) over all of its steps, discovery
 * included; `close()` aborts calls in flight with an `AbortError` and fails later ones the
 * same way.
 *
 * @throws {@link PortMapError} `PORTMAP_BAD_ARGUMENT` on bad options.
 */
export function upnpClient(options: UpnpClientOptions = {}): UpnpClient {
  return new UpnpIgdClient(validateOptions(options))
}

interface ValidOptions {
  readonly location?: URL
  readonly gateway?: string
  readonly localAddress?: string
  readonly ssdpTimeoutMs: number
  readonly ssdpTarget?: SsdpTarget
  readonly description: string
}

class UpnpIgdClient implements UpnpClient {
  readonly method = 'upnp' as const
  private readonly closed = new AbortController()
  private readonly agent = new Agent({ keepAlive: false, maxSockets: MAX_SOCKETS })
  /** The WAN service of the last description read, until a request to it fails. */
  private service: WanService | undefined

  constructor(private readonly options: ValidOptions) {}

  async map(request: MapRequest): Promise<MappingGrant> {
    const valid = validateRequest(request, this.options.description)
    return this.bounded(request, 'UPnP map', (signal) =>
      this.withService(signal, (service) => this.addMapping(service, valid, signal)),
    )
  }

  async unmap(grant: MappingGrant, options: RequestOptions = {}): Promise<void> {
    if (grant.method !== 'upnp') {
      throw badArgument(`cannot unmap a ${String(grant.method)} grant with the UPnP client`)
    }
    checkProtocol(grant.protocol)
    checkPort(grant.externalPort, 'externalPort')
    const protocol = grant.protocol === 'tcp' ? 'TCP' : 'UDP'
    const entry: SoapArguments = [
      ['NewRemoteHost', ''],
      ['NewExternalPort', String(grant.externalPort)],
      ['NewProtocol', protocol],
    ]
    await this.bounded(options, 'UPnP unmap', (signal) =>
      this.withService(signal, async (service) => {
        try {
          if (await this.forwardsElsewhere(service, entry, grant, signal)) return
          await this.call(service, 'DeletePortMapping', entry, signal)
        } catch (err) {
          if (!(err instanceof PortMapError && err.resultCode === ERR_NO_SUCH_ENTRY)) throw err
        }
      }),
    )
  }

  /**
   * True when the gateway's entry for the grant's external port now forwards to another
   * address or port than the grant's: an IGD silently overwrites a mapping when the same
   * client asks for the same external port again, so the grant's mapping is gone and
   * deleting the entry would take a live mapping with it. A gateway that cannot answer
   * (other than 714, which the caller handles) gets the `DeletePortMapping` anyway.
   */
  private async forwardsElsewhere(
    service: WanService,
    entry: SoapArguments,
    grant: MappingGrant,
    signal: AbortSignal,
  ): Promise<boolean> {
    let values: ReadonlyMap<string, string>
    try {
      values = (await this.call(service, 'GetSpecificPortMappingEntry', entry, signal)).values
    } catch (err) {
      const refused = err instanceof PortMapError && err.code === 'PORTMAP_REFUSED'
      if (refused && err.resultCode !== ERR_NO_SUCH_ENTRY) return false
      throw err
    }
    const client = values.get('NewInternalClient')
    const port = values.get('NewInternalPort')
    if (client === undefined || port === undefined) return false
    return client !== grant.internalAddress || Number(port) !== grant.internalPort
  }

  async externalAddress(options: RequestOptions = {}): Promise<string> {
    return this.bounded(options, 'UPnP external address', (signal) =>
      this.withService(
        signal,
        async (service) => (await this.getExternal(service, signal)).address,
      ),
    )
  }

  close(): void {
    if (this.closed.signal.aborted) return
    this.closed.abort(new AbortError('UPnP client closed'))
    this.agent.destroy()
    this.service = undefined
  }

  /**
   * Runs one call under its deadline, also aborted by the caller's signal and by `close()`;
   * settles by the deadline whatever the steps inside do, and releases the timer after.
   */
  private async bounded<T>(
    options: RequestOptions,
    what: string,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) {
      throw badArgument(`timeoutMs must be a positive number, got ${timeoutMs}`)
    }
    const deadline = new Deadline(timeoutMs, [options.signal, this.closed.signal], what)
    try {
      throwIfAborted(deadline.signal)
      return await deadline.race(work(deadline.signal))
    } finally {
      deadline.dispose()
    }
  }

  /** Runs `use` on the cached service (or a fresh one); see the retry in {@link upnpClient}. */
  private async withService<T>(
    signal: AbortSignal,
    use: (service: WanService) => Promise<T>,
  ): Promise<T> {
    const cached = this.service
    try {
      return await this.attempt(cached ?? (await this.locate(signal)), use)
    } catch (err) {
      if (!cached || !isNetworkError(err)) throw err
      return this.attempt(await this.locate(signal), use)
    }
  }

  /** Runs `use`; an HTTP-level failure drops the service from the cache. */
  private async attempt<T>(service: WanService, use: (s: WanService) => Promise<T>): Promise<T> {
    try {
      return await use(service)
    } catch (err) {
      if (isNetworkError(err) && this.service === service) this.service = undefined
      throw err
    }
  }

  /** Finds the gateway's description (SSDP unless `location` was given) and reads it. */
  private async locate(signal: AbortSignal): Promise<WanService> {
    const { gateway, localAddress, ssdpTarget, ssdpTimeoutMs } = this.options
    const location =
      this.options.location ??
      (
        await discoverIgd({
          gateway,
          localAddress,
          target: ssdpTarget,
          timeoutMs: ssdpTimeoutMs,
          signal,
        })
      ).location
    const response = await httpExchange(location, {
      method: 'GET',
      agent: this.agent,
      signal,
      maxBodyBytes: MAX_DESCRIPTION_BYTES,
    })
    if (response.status !== 200) {
      throw new PortMapError('PORTMAP_NETWORK', `GET ${location.href}: HTTP ${response.status}`)
    }
    const service = parseDescription(response.body, location)
    if (!this.closed.signal.aborted) this.service = service
    return service
  }

  private call(
    service: WanService,
    action: string,
    args: SoapArguments,
    signal: AbortSignal,
  ): Promise<SoapResult> {
    return soapCall(service, action, args, { agent: this.agent, signal })
  }

  private async getExternal(
    service: WanService,
    signal: AbortSignal,
  ): Promise<{ address: string; connection: SoapResult }> {
    const connection = await this.call(service, 'GetExternalIPAddress', [], signal)
    const address = connection.values.get('NewExternalIPAddress') ?? ''
    if (address === '' || address === '0.0.0.0') {
      throw new PortMapError(
        'PORTMAP_BAD_GRANT',
        `gateway ${connection.remoteAddress} has no external IP address (WAN down?)`,
      )
    }
    if (isIP(address) !== 4) {
      throw new PortMapError(
        'PORTMAP_MALFORMED',
        `NewExternalIPAddress is not an IPv4 address: "${address.slice(0, 60)}"`,
      )
    }
    return { address, connection }
  }

  private async addMapping(
    service: WanService,
    request: ValidRequest,
    signal: AbortSignal,
  ): Promise<MappingGrant> {
    const { address: externalAddress, connection } = await this.getExternal(service, signal)
    const internalAddress = this.options.localAddress ?? connection.localAddress
    const { internalPort, lifetimeSeconds } = request
    let externalPort = request.suggestedExternalPort ?? internalPort
    let lease = lifetimeSeconds
    let conflicts = 0
    let anyPort = false
    let anyPortUnsupported = false
    for (;;) {
      const args: SoapArguments = [
        ['NewRemoteHost', ''],
        ['NewExternalPort', String(externalPort)],
        ['NewProtocol', request.upnpProtocol],
        ['NewInternalPort', String(internalPort)],
        ['NewInternalClient', internalAddress],
        ['NewEnabled', '1'],
        ['NewPortMappingDescription', request.description],
        ['NewLeaseDuration', String(lease)],
      ]
      try {
        if (anyPort) {
          const reply = await this.call(service, 'AddAnyPortMapping', args, signal)
          externalPort = reservedPort(reply.values.get('NewReservedPort'))
        } else {
          await this.call(service, 'AddPortMapping', args, signal)
        }
        return {
          method: 'upnp',
          protocol: request.protocol,
          gateway: connection.remoteAddress,
          internalAddress,
          internalPort,
          externalAddress,
          externalPort,
          lifetimeSeconds: grantedLifetime(service, lifetimeSeconds, lease),
        }
      } catch (err) {
        const code =
          err instanceof PortMapError && err.code === 'PORTMAP_REFUSED' ? err.resultCode : undefined
        if (code === ERR_ONLY_PERMANENT_LEASES && lease !== 0) {
          lease = 0
        } else if (code === ERR_CONFLICT && conflicts < MAX_CONFLICT_RETRIES) {
          conflicts++
          if (service.version === 2 && !anyPortUnsupported) anyPort = true
          else externalPort = randomExternalPort(externalPort)
        } else if (
          code === ERR_SAME_PORT_VALUES_REQUIRED &&
          !anyPort &&
          externalPort !== internalPort
        ) {
          externalPort = internalPort
        } else if (
          anyPort &&
          (code === ERR_INVALID_ACTION || code === ERR_OPTIONAL_ACTION_NOT_IMPLEMENTED)
        ) {
          anyPort = false
          anyPortUnsupported = true
          externalPort = randomExternalPort(externalPort)
        } else {
          throw err
        }
      }
    }
  }
}

function isNetworkError(err: unknown): boolean {
  return err instanceof PortMapError && err.code === 'PORTMAP_NETWORK'
}

/** The lifetime a grant reports (see {@link upnpClient}). */
function grantedLifetime(service: WanService, requested: number, sent: number): number {
  if (sent === 0 && requested !== 0) return requested // 725 fallback: the mapper refreshes it
  if (service.version === 2) {
    return requested === 0 ? IGD2_MAX_LEASE_SECONDS : Math.min(requested, IGD2_MAX_LEASE_SECONDS)
  }
  return requested
}

function reservedPort(text: string | undefined): number {
  const port = text !== undefined && /^[0-9]{1,5}$/.test(text) ? Number(text) : 0
  if (port < 1 || port > 65535) {
    throw new PortMapError('PORTMAP_BAD_GRANT', `AddAnyPortMapping reserved port "${text}"`)
  }
  return port
}

/** A random port in 1024–65535 other than `previous`. */
function randomExternalPort(previous: number): number {
  for (;;) {
    const port = randomInt(1024, 65536)
    if (port !== previous) return port
  }
}

interface ValidRequest {
  readonly protocol: MapRequest['protocol']
  readonly upnpProtocol: 'TCP' | 'UDP'
  readonly internalPort: number
  readonly suggestedExternalPort?: number
  readonly lifetimeSeconds: number
  readonly description: string
}

function validateRequest(request: MapRequest, defaultDescription: string): ValidRequest {
  checkProtocol(request.protocol)
  checkPort(request.internalPort, 'internalPort')
  if (request.suggestedExternalPort !== undefined) {
    checkPort(request.suggestedExternalPort, 'suggestedExternalPort')
  }
  // 0 is allowed here: UPnP's permanent lease.
  const lifetimeSeconds = checkLifetime(request.lifetimeSeconds, 0)
  const description = request.description ?? defaultDescription
  checkDescription(description)
  return {
    protocol: request.protocol,
    upnpProtocol: request.protocol === 'tcp' ? 'TCP' : 'UDP',
    internalPort: request.internalPort,
    suggestedExternalPort: request.suggestedExternalPort,
    lifetimeSeconds,
    description,
  }
}

function validateOptions(options: UpnpClientOptions): ValidOptions {
  let location: URL | undefined
  if (options.location !== undefined) {
    try {
      location = new URL(options.location)
    } catch (err) {
      throw badArgument(`location is not a URL: ${String(options.location)}`, err)
    }
    if (location.protocol !== 'http:')
      throw badArgument(`location must be http:, got ${location.href}`)
  }
  for (const [name, ip] of [
    ['gateway', options.gateway],
    ['localAddress', options.localAddress],
    ['ssdpTarget.host', options.ssdpTarget?.host],
  ] as const) {
    if (ip !== undefined && isIP(ip) !== 4)
      throw badArgument(`${name} must be an IPv4 address, got ${ip}`)
  }
  if (options.ssdpTarget) checkPort(options.ssdpTarget.port, 'ssdpTarget.port')
  const ssdpTimeoutMs = options.ssdpTimeoutMs ?? DEFAULT_SSDP_TIMEOUT_MS
  if (!(ssdpTimeoutMs > 0 && Number.isFinite(ssdpTimeoutMs))) {
    throw badArgument(`ssdpTimeoutMs must be a positive number, got ${ssdpTimeoutMs}`)
  }
  const description = options.description ?? DEFAULT_MAPPING_DESCRIPTION
  checkDescription(description)
  return { ...options, location, ssdpTimeoutMs, description }
}

function checkDescription(description: string): void {
  if (typeof description !== 'string' || description.length > MAX_MAPPING_DESCRIPTION) {
    throw badArgument(
      `description must be a string of at most ${MAX_MAPPING_DESCRIPTION} characters`,
    )
  }
  if (XML_ILLEGAL.test(description)) throw badArgument('description has control characters')
}

function badArgument(message: string, cause?: unknown): PortMapError {
  return new PortMapError('PORTMAP_BAD_ARGUMENT', message, { cause })
}
