/**
 * Port mapping on the local gateway, so peers can reach a node behind a NAT directly: PCP
 * (RFC 6887), NAT-PMP (RFC 6886) and UPnP IGD clients behind one {@link MappingClient}
 * contract, a {@link PortMapper} that tries them in order, and a {@link PortMapping} that renews
 * itself and is released on purpose.
 *
 * Nothing here sends a packet on import or by default: you name the gateway (or call
 * {@link findGateway}, which reads the routing table), so tests can point every client at a
 * loopback responder or a lab router.
 *
 * @example
 * ```ts
 * import { findGateway, gatewayClients, PortMapper } from '@p2pd/portmap'
 *
 * const mapper = new PortMapper(gatewayClients({ gateway: await findGateway() }))
 * const mapping = await mapper.map({ protocol: 'tcp', internalPort: 4000 })
 * mapping.on('change', (g) => console.log('now at', g.externalAddress, g.externalPort))
 * // … later
 * await mapping.release()
 * ```
 *
 * @packageDocumentation
 */
export { DROPPED_REPLY_CODES, PortMapError, type PortMapErrorCode } from './errors.js'
export {
  type FindGatewayOptions,
  findGateway,
  parseRouteTable,
  pickGateway,
  type Route4,
} from './gateway.js'
export { gatewayClients } from './gateway-clients.js'
export { DEFAULT_METHOD_TIMEOUT_MS, PortMapper } from './mapper.js'
export { describe as describeGrant, PortMapping, type PortMappingEvents } from './mapping.js'
export { natPmpClient } from './natpmp-client.js'
export {
  decodeNatPmpReply,
  encodeNatPmpExternalAddressRequest,
  encodeNatPmpMapRequest,
  NATPMP_PORT,
  type NatPmpMapFields,
  type NatPmpReply,
  type NatPmpReplyHead,
  natPmpResultNames,
} from './natpmp-codec.js'
export { type GatewayClientOptions, pcpClient } from './pcp-client.js'
export {
  decodePcpMapReply,
  encodePcpMapRequest,
  PCP_MAX_MESSAGE,
  type PcpMapFields,
  type PcpMapReply,
  pcpResultNames,
} from './pcp-codec.js'
export {
  DEFAULT_LIFETIME_SECONDS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type MappingClient,
  type MappingGrant,
  type MappingMethod,
  type MappingProtocol,
  type MapRequest,
  type RequestOptions,
} from './types.js'
export {
  DEFAULT_SSDP_TIMEOUT_MS,
  type UpnpClient,
  type UpnpClientOptions,
  upnpClient,
} from './upnp/client.js'
export type { SsdpTarget } from './upnp/ssdp.js'
