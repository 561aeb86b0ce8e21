import { PortMapError } from './errors.js'
import { DEFAULT_LIFETIME_SECONDS, type MapRequest } from './types.js'

/** A map request with its defaults filled in and every field checked. */
export interface CheckedRequest {
  readonly protocol: MapRequest['protocol']
  readonly internalPort: number
  readonly suggestedExternalPort: number
  readonly lifetimeSeconds: number
}

/** @throws {@link PortMapError} `PORTMAP_BAD_ARGUMENT` naming the bad field */
export function checkRequest(request: MapRequest): CheckedRequest {
  if (request.protocol !== 'tcp' && request.protocol !== 'udp') {
    throw bad(`protocol ${JSON.stringify(request.protocol)}; want "tcp" or "udp"`)
  }
  checkPort(request.internalPort, 'internalPort')
  const suggested = request.suggestedExternalPort ?? request.internalPort
  checkPort(suggested, 'suggestedExternalPort')
  const lifetime = request.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > 0xffffffff) {
    throw bad(`lifetimeSeconds ${lifetime}; want an integer 1–4294967295`)
  }
  return {
    protocol: request.protocol,
    internalPort: request.internalPort,
    suggestedExternalPort: suggested,
    lifetimeSeconds: lifetime,
  }
}

export function checkPort(port: unknown, name: string): void {
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw bad(`${name} ${String(port)}; want an integer 1–65535`)
  }
}

function bad(why: string): PortMapError {
  return new PortMapError('PORTMAP_BAD_ARGUMENT', why)
}
