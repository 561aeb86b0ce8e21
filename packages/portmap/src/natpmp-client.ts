import { PortMapError, refusedError } from './errors.js'
import {
  decodeNatPmpReply,
  encodeNatPmpExternalAddressRequest,
  encodeNatPmpMapRequest,
  NATPMP_PORT,
  type NatPmpReply,
  natPmpResultNames,
} from './natpmp-codec.js'
import type { GatewayClientOptions } from './pcp-client.js'
import type {
  MappingClient,
  MappingGrant,
  MappingProtocol,
  MapRequest,
  RequestOptions,
} from './types.js'
import { udpExchange } from './udp-exchange.js'
import { checkRequest } from './validate.js'

/**
 * A NAT-PMP (RFC 6886) client: the external address, then the mapping, each one exchange with
 * 250 ms doubling retransmissions. IPv4 only, as the protocol is.
 */
export function natPmpClient(options: GatewayClientOptions): MappingClient {
  const target = { ...options, port: options.port ?? NATPMP_PORT }

  async function exchange<T extends NatPmpReply['op']>(
    request: Uint8Array,
    op: T,
    check: (reply: Extract<NatPmpReply, { op: T }>) => boolean,
    o: RequestOptions,
  ): Promise<{ reply: Extract<NatPmpReply, { op: T }>; localAddress: string }> {
    return udpExchange(target, {
      ...o,
      request: () => request,
      accept: (datagram) => {
        const r = decodeNatPmpReply(datagram)
        if (replyOpcode(r) !== 128 + (request[1] as number)) {
          throw new PortMapError('PORTMAP_MISMATCH', 'NAT-PMP reply to another request')
        }
        if (r.resultCode !== 0) {
          throw refusedError('NAT-PMP', options.gateway, r.resultCode, natPmpResultNames)
        }
        if (r.op !== op || !check(r as Extract<NatPmpReply, { op: T }>)) {
          throw new PortMapError('PORTMAP_MISMATCH', 'NAT-PMP reply for another mapping')
        }
        return r as Extract<NatPmpReply, { op: T }>
      },
    })
  }

  const mapOnce = (
    protocol: MappingProtocol,
    internalPort: number,
    suggestedExternalPort: number,
    lifetimeSeconds: number,
    o: RequestOptions,
  ) =>
    exchange(
      encodeNatPmpMapRequest({ protocol, internalPort, suggestedExternalPort, lifetimeSeconds }),
      'map',
      (r) => r.protocol === protocol && r.internalPort === internalPort,
      o,
    )

  return {
    method: 'nat-pmp',
    async map(request: MapRequest): Promise<MappingGrant> {
      const r = checkRequest(request)
      const { reply: ext } = await exchange(
        encodeNatPmpExternalAddressRequest(),
        'external-address',
        () => true,
        request,
      )
      const { reply, localAddress } = await mapOnce(
        r.protocol,
        r.internalPort,
        r.suggestedExternalPort,
        r.lifetimeSeconds,
        request,
      )
      if (
        reply.lifetimeSeconds === 0 ||
        reply.externalPort === 0 ||
        ext.externalAddress === '0.0.0.0'
      ) {
        throw new PortMapError(
          'PORTMAP_BAD_GRANT',
          `NAT-PMP granted ${ext.externalAddress}:${reply.externalPort} for ${reply.lifetimeSeconds} s`,
        )
      }
      return {
        method: 'nat-pmp',
        protocol: r.protocol,
        gateway: options.gateway,
        internalAddress: localAddress,
        internalPort: r.internalPort,
        externalAddress: ext.externalAddress,
        externalPort: reply.externalPort,
        lifetimeSeconds: reply.lifetimeSeconds,
      }
    },
    async unmap(grant: MappingGrant, o: RequestOptions = {}): Promise<void> {
      // Lifetime 0 with suggested port 0 deletes the mapping (RFC 6886 §3.4).
      await mapOnce(grant.protocol, grant.internalPort, 0, 0, o)
    },
  }
}

function replyOpcode(r: NatPmpReply): number {
  if (r.op === 'error') return r.opcode
  if (r.op === 'external-address') return 128
  return r.protocol === 'udp' ? 129 : 130
}
