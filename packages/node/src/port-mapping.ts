import { type AddressInterface, Deadline, DeltaType, isOpenNat, NatType } from '@p2pd/interface'
import {
  describeGrant,
  findGateway,
  gatewayClients,
  type MappingClient,
  type MappingMethod,
  PortMapper,
  type PortMapping,
} from '@p2pd/portmap'

/** `createNode({ portMapping })`: ask the gateway to forward the listener's port. */
export interface PortMappingInit {
  /**
   * Mapping clients to try in order. Default: PCP, NAT-PMP, then UPnP IGD on the gateway of
   * the route towards `towards` (or the default route), read from the routing table.
   */
  readonly clients?:
    | readonly MappingClient[]
    | ((signal: AbortSignal) => Promise<readonly MappingClient[]>)
  /** Pick the gateway our public traffic leaves by: the route to this IPv4 address (a STUN server). */
  readonly towards?: string
  /** Methods for the default clients (default all three). */
  readonly methods?: readonly MappingMethod[]
  /** Requested lifetime in seconds (default 7200); renewed at half of what is granted. */
  readonly lifetimeSeconds?: number
  /** How long `start()` waits for a mapping (default 2000 ms); the node starts anyway. */
  readonly timeoutMs?: number
}

/**
 * The listener's port mapping. A granted mapping is announced as one more IPv4 entry of the
 * interface it belongs to: same netiface index, the gateway's external IP, the mapped port, and
 * NAT type "open" — because that is what it is for TCP: anyone may connect to it. Old P2PD
 * nodes read it as one more open interface and dial it directly; ours do too.
 *
 * It is announced only when the gateway's external IP equals the one STUN saw: a mapping on a
 * router behind another NAT (CGNAT, double NAT) is unreachable from the internet.
 */
export class ListenerMapping {
  #mapping?: PortMapping
  #mapper?: PortMapper
  #warned = ''

  constructor(
    private readonly init: PortMappingInit,
    private readonly log: (m: string) => void,
    /** Called when the mapping moved or was lost, so the address is rebuilt. */
    private readonly onChange: () => void,
  ) {}

  get mapping(): PortMapping | undefined {
    return this.#mapping
  }

  /** Maps TCP `port`; never throws (a failure is logged and the node goes on without). */
  async open(port: number, signal: AbortSignal): Promise<void> {
    if (this.#mapping) return
    const deadline = new Deadline(this.init.timeoutMs ?? 2000, signal, 'port mapping')
    const budget = deadline.signal
    const t0 = performance.now()
    try {
      const clients =
        typeof this.init.clients === 'function'
          ? await this.init.clients(budget)
          : (this.init.clients ??
            gatewayClients({
              gateway: await findGateway(this.init.towards ? { towards: this.init.towards } : {}),
              ...(this.init.methods ? { methods: this.init.methods } : {}),
            }))
      this.#mapper = new PortMapper([...clients])
      const mapping = await this.#mapper.map({
        protocol: 'tcp',
        internalPort: port,
        description: 'p2pd node',
        ...(this.init.lifetimeSeconds ? { lifetimeSeconds: this.init.lifetimeSeconds } : {}),
        signal: budget,
        methodTimeoutMs: Math.min(this.init.timeoutMs ?? 2000, 1500),
      })
      this.#mapping = mapping
      this.log(
        `port mapping: ${describeGrant(mapping.grant)} in ${(performance.now() - t0).toFixed(0)} ms`,
      )
      mapping.on('change', (g) => {
        this.log(`port mapping moved: ${describeGrant(g)}`)
        this.onChange()
      })
      mapping.on('lost', (err) => {
        this.log(`port mapping lost: ${err.message}`)
        this.#mapping = undefined
        this.onChange()
      })
      mapping.on('error', (err) => this.log(`port mapping renewal failed: ${String(err)}`))
    } catch (err) {
      this.log(`port mapping: none (${(err as Error).message})`)
    } finally {
      deadline.dispose()
    }
  }

  /**
   * The address entry the mapping adds to `ip4` (already built from the discovered
   * interfaces), or none when there is no mapping, it would not help, or the family is full.
   */
  entryFor(ip4: readonly AddressInterface[], max: number): AddressInterface | undefined {
    const grant = this.#mapping?.grant
    if (!grant || ip4.length >= max) return undefined
    const owner = ip4.find((i) => i.ext === grant.externalAddress)
    if (!owner) {
      const why = `port mapping ${describeGrant(grant)} not announced: STUN sees ${ip4.map((i) => i.ext).join(', ') || 'no IPv4'}, so the gateway is behind another NAT`
      if (why !== this.#warned) this.log(why)
      this.#warned = why
      return undefined
    }
    if (isOpenNat(owner.nat)) return undefined // reachable already
    return {
      netifaceIndex: owner.netifaceIndex,
      ifIndex: Math.max(...ip4.map((i) => i.ifIndex)) + 1,
      ext: grant.externalAddress,
      nic: grant.externalAddress,
      port: grant.externalPort,
      nat: { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } },
    }
  }

  /** Deletes the mapping on the gateway (bounded: stop() must not hang on a dead gateway). */
  async close(): Promise<void> {
    const m = this.#mapping
    this.#mapping = undefined
    try {
      await m?.release({ timeoutMs: 1000 })
    } catch (err) {
      this.log(`port mapping release failed: ${(err as Error).message}`)
    } finally {
      this.#mapper?.close()
    }
  }
}
