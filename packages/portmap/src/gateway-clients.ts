import { natPmpClient } from './natpmp-client.js'
import { type GatewayClientOptions, pcpClient } from './pcp-client.js'
import type { MappingClient, MappingMethod } from './types.js'
import { type UpnpClientOptions, upnpClient } from './upnp/client.js'

/**
 * The built-in clients for one gateway, in the usual order: PCP (the newest; also answers for
 * IPv6 firewalls), NAT-PMP (what a PCP server falls back to), UPnP IGD (the most deployed).
 */
export function gatewayClients(
  options: GatewayClientOptions & {
    readonly methods?: readonly MappingMethod[]
    readonly upnp?: Omit<UpnpClientOptions, 'gateway'>
  },
): MappingClient[] {
  const methods = options.methods ?? ['pcp', 'nat-pmp', 'upnp']
  return methods.map((method) => {
    if (method === 'pcp') return pcpClient(options)
    if (method === 'nat-pmp') return natPmpClient(options)
    return upnpClient({
      gateway: options.gateway,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...options.upnp,
    })
  })
}
