import { PortMapError } from '../errors.js'
import { childElement, childText, descendants, parseXml } from './xml.js'

/**
 * Reading an IGD's root device description: which WAN connection service it offers and
 * where that service's SOAP control endpoint is.
 */

/** WAN connection services that can forward ports, most preferred first. */
export const WAN_SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const

export type WanServiceType = (typeof WAN_SERVICE_TYPES)[number]

/** The service the client talks to. */
export interface WanService {
  readonly serviceType: WanServiceType
  /** 2 for WANIPConnection:2 (which has `AddAnyPortMapping`), else 1. */
  readonly version: 1 | 2
  /** The SOAP control endpoint, absolute. */
  readonly controlUrl: URL
}

/**
 * Finds the preferred WAN connection service ({@link WAN_SERVICE_TYPES}) in a root device
 * description and resolves its `controlURL` against the document's `URLBase` (UPnP 1.0) or
 * else the URL the description came from.
 *
 * @param location - The URL the description was fetched from.
 * @throws {@link PortMapError} `PORTMAP_MALFORMED` (not XML, not a UPnP `root`, bad or
 *   non-`http:` control URL, or one on another host than `location`), `PORTMAP_NO_DEVICE` (no WAN connection service).
 */
export function parseDescription(xml: string, location: URL): WanService {
  const root = parseXml(xml)
  if (root.localName !== 'root') {
    throw new PortMapError('PORTMAP_MALFORMED', `description root is <${root.name}>, not <root>`)
  }
  if (!childElement(root, 'device')) {
    throw new PortMapError('PORTMAP_MALFORMED', 'description has no <device>')
  }
  const services = descendants(root, 'service')
  for (const serviceType of WAN_SERVICE_TYPES) {
    const service = services.find((s) => childText(s, 'serviceType') === serviceType)
    if (!service) continue
    const control = childText(service, 'controlURL')
    if (!control) {
      throw new PortMapError('PORTMAP_MALFORMED', `${serviceType} has no controlURL`)
    }
    const base = childText(root, 'URLBase') || location.href
    let controlUrl: URL
    try {
      controlUrl = new URL(control, base)
    } catch {
      throw new PortMapError('PORTMAP_MALFORMED', `bad controlURL "${control.slice(0, 80)}"`)
    }
    if (controlUrl.protocol !== 'http:') {
      throw new PortMapError('PORTMAP_MALFORMED', `controlURL is not http: ${controlUrl.href}`)
    }
    // The control endpoint lives on the device that served the description; anything else
    // would have us POST to wherever a document names.
    if (controlUrl.hostname !== location.hostname) {
      throw new PortMapError(
        'PORTMAP_MALFORMED',
        `controlURL ${controlUrl.href} is on another host than ${location.host}`,
      )
    }
    return { serviceType, version: serviceType.endsWith(':2') ? 2 : 1, controlUrl }
  }
  throw new PortMapError(
    'PORTMAP_NO_DEVICE',
    `${location.href} describes no WANIPConnection or WANPPPConnection service`,
  )
}
