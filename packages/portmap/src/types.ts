/** Transport protocol of a mapping. */
export type MappingProtocol = 'tcp' | 'udp'

/** How a mapping was obtained. */
export type MappingMethod = 'pcp' | 'nat-pmp' | 'upnp'

/** What to map: "forward `externalPort` on the gateway to `internalAddress:internalPort`". */
export interface MapRequest {
  readonly protocol: MappingProtocol
  /** The local port that should receive the inbound traffic (1–65535). */
  readonly internalPort: number
  /** The external port to ask for (a hint; default: the internal port). */
  readonly suggestedExternalPort?: number
  /** Requested lifetime in seconds (default 7200; the gateway may grant less). */
  readonly lifetimeSeconds?: number
  /** Free text the gateway may show (UPnP only). */
  readonly description?: string
  readonly signal?: AbortSignal
  /** Deadline of this one request (default 3000 ms). */
  readonly timeoutMs?: number
}

/** A mapping the gateway granted. */
export interface MappingGrant {
  readonly method: MappingMethod
  readonly protocol: MappingProtocol
  /** The gateway that holds the mapping (IP). */
  readonly gateway: string
  /** Our own address the gateway forwards to. */
  readonly internalAddress: string
  readonly internalPort: number
  /** The gateway's external IP (what peers dial). */
  readonly externalAddress: string
  readonly externalPort: number
  /** Granted lifetime in seconds; renew before it runs out. */
  readonly lifetimeSeconds: number
}

/** Options of a release or a query. */
export interface RequestOptions {
  readonly signal?: AbortSignal
  /** Deadline (default 3000 ms). */
  readonly timeoutMs?: number
}

/**
 * One port-mapping protocol talking to one gateway. The built-in ones are {@link pcpClient},
 * {@link natPmpClient} and {@link upnpClient}; {@link PortMapper} tries a list of them in order.
 * Implement this to plug in another (a cloud firewall API, a test double).
 */
export interface MappingClient {
  readonly method: MappingMethod | (string & {})
  /** Creates or renews the mapping (renewing = the same request again). */
  map(request: MapRequest): Promise<MappingGrant>
  /** Deletes a mapping this client granted. */
  unmap(grant: MappingGrant, options?: RequestOptions): Promise<void>
  /** Releases sockets and caches. Idempotent. */
  close?(): void
}

/** Default requested lifetime (RFC 6886 recommends 7200 s). */
export const DEFAULT_LIFETIME_SECONDS = 7200
/** Default deadline of one request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 3000
