import { PortMapError } from './errors.js'
import { DEFAULT_LIFETIME_SECONDS, type MapRequest } from './types.js'

/** A map request with its defaults filled in and every field checked. */
export interface CheckedRequest {
  readonly protocol: MapRequest['protocol']
  readonly internalPort: number
  readonly suggestedExternalPort: number
  readonly lifetimeSeconds: number
}

/**
 * Checks a request for PCP and NAT-PMP, where a lifetime of 0 would delete the mapping.
 *
 * @throws {@link PortMapError} `PORTMAP_BAD_ARGUMENT` naming the bad field
 */
export function checkRequest(request: MapRequest): CheckedRequest {
  checkProtocol(request.protocol)
  checkPort(request.internalPort, 'internalPort')
  const suggested = request.suggestedExternalPort ?? request.internalPort
  checkPort(suggested, 'suggestedExternalPort')
  return {
    protocol: request.protocol,
    internalPort: request.internalPort,
    suggestedExternalPort: suggested,
    lifetimeSeconds: checkLifetime(request.lifetimeSeconds, 1),
  }
}

export function checkProtocol(protocol: unknown): asserts protocol is MapRequest['protocol'] {
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw bad(`protocol ${JSON.stringify(protocol)}; want "tcp" or "udp"`)
  }
}

export function checkPort(port: unknown, name: string): void {
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw bad(`${name} ${String(port)}; want an integer 1–65535`)
  }
}

/** The lifetime asked for (default 7200 s), an integer from `min` to 2³² − 1. */
export function checkLifetime(lifetime: number | undefined, min: 0 | 1): number {
  const value = lifetime ?? DEFAULT_LIFETIME_SECONDS
  if (!Number.isInteger(value) || value < min || value > 0xffffffff) {
    throw bad(`lifetimeSeconds ${value}; want an integer ${min}–4294967295`)
  }
  return value
}

function bad(why: string): PortMapError {
  return new PortMapError('PORTMAP_BAD_ARGUMENT', why)
}
