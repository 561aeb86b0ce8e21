import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { PortMapError, refusedError } from './errors.js'
import { NATPMP_PORT } from './natpmp-codec.js'
import {
  decodePcpMapReply,
  encodePcpMapRequest,
  type PcpMapReply,
  pcpResultNames,
} from './pcp-codec.js'
import type { MappingClient, MappingGrant, MapRequest, RequestOptions } from './types.js'
import { udpExchange } from './udp-exchange.js'
import { checkRequest } from './validate.js'

export interface GatewayClientOptions {
  /** The gateway's IP (see {@link findGateway}). */
  readonly gateway: string
  /** Server port (default 5351; tests point this at a loopback responder). */
  readonly port?: number
  /** Send from this local address (default: whatever routes to the gateway). */
  readonly localAddress?: string
}

/**
 * A PCP (RFC 6887) client for MAP requests. Each (protocol, internal port) keeps one random
 * nonce, so a renewal is the same request again and the server recognises it (§11.2); the
 * external address granted first is suggested on renewals, so it survives a server restart
 * when it can. A NAT-PMP-only server's version-0 answer fails with
 * `PORTMAP_UNSUPPORTED_VERSION` — {@link PortMapper} then moves on to {@link natPmpClient}.
 */
export function pcpClient(options: GatewayClientOptions): MappingClient {
  const target = { ...options, port: options.port ?? NATPMP_PORT }
  const nonces = new Map<string, Uint8Array>()
  const lastExternal = new Map<string, string>()
  const anyAddress = isIP(options.gateway) === 6 ? '::' : '0.0.0.0'
  const keyOf = (protocol: string, internalPort: number) => `${protocol}/${internalPort}`

  async function send(
    key: string,
    fields: { protocol: 'tcp' | 'udp'; internalPort: number; suggestedExternalPort: number },
    lifetimeSeconds: number,
    o: RequestOptions,
  ): Promise<{ reply: PcpMapReply; localAddress: string }> {
    let nonce = nonces.get(key)
    if (!nonce) {
      nonce = randomBytes(12)
      nonces.set(key, nonce)
    }
    const sent = nonce
    return udpExchange(target, {
      ...o,
      request: (local) =>
        encodePcpMapRequest({
          nonce: sent,
          ...fields,
          suggestedExternalAddress: lastExternal.get(key) ?? anyAddress,
          lifetimeSeconds,
          clientAddress: local,
        }),
      accept: (datagram) => {
        const r = decodePcpMapReply(datagram)
        if (!equalBytes(r.nonce, sent) || r.internalPort !== fields.internalPort) {
          throw new PortMapError(
            'PORTMAP_MISMATCH',
            'PCP reply for another mapping (nonce or port)',
          )
        }
        if (r.resultCode !== 0)
          throw refusedError('PCP MAP', options.gateway, r.resultCode, pcpResultNames)
        if (r.protocol !== fields.protocol) {
          throw new PortMapError('PORTMAP_MISMATCH', `PCP reply for protocol ${r.protocolNumber}`)
        }
        return r
      },
    })
  }

  return {
    method: 'pcp',
    async map(request: MapRequest): Promise<MappingGrant> {
      const r = checkRequest(request)
      const key = keyOf(r.protocol, r.internalPort)
      const { reply, localAddress } = await send(key, r, r.lifetimeSeconds, request)
      if (reply.lifetimeSeconds === 0 || reply.externalPort === 0) {
        throw new PortMapError(
          'PORTMAP_BAD_GRANT',
          `PCP granted port ${reply.externalPort} for ${reply.lifetimeSeconds} s`,
        )
      }
      lastExternal.set(key, reply.externalAddress)
      return {
        method: 'pcp',
        protocol: r.protocol,
        gateway: options.gateway,
        internalAddress: localAddress,
        internalPort: r.internalPort,
        externalAddress: reply.externalAddress,
        externalPort: reply.externalPort,
        lifetimeSeconds: reply.lifetimeSeconds,
      }
    },
    async unmap(grant: MappingGrant, o: RequestOptions = {}): Promise<void> {
      const key = keyOf(grant.protocol, grant.internalPort)
      if (!nonces.has(key)) return // not ours: a PCP server would refuse it anyway
      await send(
        key,
        { protocol: grant.protocol, internalPort: grant.internalPort, suggestedExternalPort: 0 },
        0,
        o,
      )
      nonces.delete(key)
      lastExternal.delete(key)
    },
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
