import type { Agent } from 'node:http'
import { PortMapError } from '../errors.js'
import { httpExchange } from './http.js'
import { childElement, childText, escapeXml, parseXml, type XmlElement } from './xml.js'

/**
 * UPnP control: SOAP 1.1 actions over HTTP POST (UPnP Device Architecture 1.1 §3). Requests
 * are built by string with every value escaped; responses and faults go through the bounded
 * XML reader.
 */

const SOAP_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
const SOAP_ENCODING = 'http://schemas.xmlsoap.org/soap/encoding/'
/** Bound on a control response; real ones are under 1 KiB. */
export const MAX_SOAP_RESPONSE_BYTES = 64 * 1024
/** Bound on the text we keep of a device's errorDescription. */
const MAX_ERROR_DESCRIPTION = 120

/** Standard names of the UPnP error codes a port-mapping client meets (IGD WANIPConnection:2 §2.5). */
export const UPNP_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [401, 'InvalidAction'],
  [402, 'InvalidArgs'],
  [501, 'ActionFailed'],
  [602, 'OptionalActionNotImplemented'],
  [606, 'ActionNotAuthorized'],
  [714, 'NoSuchEntryInArray'],
  [715, 'WildCardNotPermittedInSrcIP'],
  [716, 'WildCardNotPermittedInExtPort'],
  [718, 'ConflictInMappingEntry'],
  [724, 'SamePortValuesRequired'],
  [725, 'OnlyPermanentLeasesSupported'],
  [726, 'RemoteHostOnlySupportsWildcard'],
  [727, 'ExternalPortOnlySupportsWildcard'],
  [728, 'NoPortMapsAvailable'],
  [729, 'ConflictWithOtherMechanisms'],
  [732, 'WildCardNotPermittedInIntPort'],
])

/** One action argument (order matters to some devices: send them as the SCPD lists them). */
export type SoapArguments = readonly (readonly [name: string, value: string])[]

/** The `<errorCode>` and `<errorDescription>` of a UPnP fault. */
export interface UpnpFault {
  readonly errorCode: number
  readonly errorDescription: string
}

/** A successful action's output arguments and the connection it ran over. */
export interface SoapResult {
  /** Output arguments by name, text trimmed. */
  readonly values: ReadonlyMap<string, string>
  /** Our address on the connection to the control endpoint. */
  readonly localAddress: string
  /** The control endpoint's IP. */
  readonly remoteAddress: string
}

/** Builds the SOAP envelope of one action call. */
export function encodeSoapRequest(
  serviceType: string,
  action: string,
  args: SoapArguments,
): string {
  const body = args.map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`).join('')
  return (
    '<?xml version="1.0" encoding="utf-8"?>\r\n' +
    `<s:Envelope xmlns:s="${SOAP_ENVELOPE_NS}" s:encodingStyle="${SOAP_ENCODING}">` +
    `<s:Body><u:${action} xmlns:u="${escapeXml(serviceType)}">${body}</u:${action}></s:Body>` +
    '</s:Envelope>\r\n'
  )
}

/** The `Body` element of an envelope. */
function soapBody(xml: string): XmlElement {
  const envelope = parseXml(xml, { maxLength: MAX_SOAP_RESPONSE_BYTES })
  if (envelope.localName !== 'Envelope') {
    throw new PortMapError('PORTMAP_MALFORMED', `SOAP: root is <${envelope.name}>, not Envelope`)
  }
  const body = childElement(envelope, 'Body')
  if (!body) throw new PortMapError('PORTMAP_MALFORMED', 'SOAP: envelope has no Body')
  return body
}

/**
 * Reads the output arguments of a successful `<action>Response`.
 *
 * @throws {@link PortMapError} `PORTMAP_MALFORMED` if the XML or the envelope is bad or the
 *   body holds no `<action>Response`.
 */
export function parseSoapResponse(xml: string, action: string): Map<string, string> {
  const response = childElement(soapBody(xml), `${action}Response`)
  if (!response) {
    throw new PortMapError('PORTMAP_MALFORMED', `SOAP: body has no ${action}Response`)
  }
  const values = new Map<string, string>()
  for (const arg of response.children) {
    if (!values.has(arg.localName)) values.set(arg.localName, arg.text.trim())
  }
  return values
}

/**
 * Reads the UPnP error of a SOAP fault (`Fault/detail/UPnPError/errorCode`).
 *
 * @throws {@link PortMapError} `PORTMAP_MALFORMED` if this is not such a fault.
 */
export function parseSoapFault(xml: string): UpnpFault {
  const fault = childElement(soapBody(xml), 'Fault')
  const detail = fault && childElement(fault, 'detail')
  const error = detail && childElement(detail, 'UPnPError')
  const codeText = error && childText(error, 'errorCode')
  if (!error || !codeText || !/^[0-9]{1,4}$/.test(codeText)) {
    throw new PortMapError('PORTMAP_MALFORMED', 'SOAP: no UPnPError with a numeric errorCode')
  }
  const errorDescription = (childText(error, 'errorDescription') ?? '').slice(
    0,
    MAX_ERROR_DESCRIPTION,
  )
  return { errorCode: Number(codeText), errorDescription }
}

export interface SoapCallOptions {
  readonly agent: Agent
  readonly signal: AbortSignal
}

/**
 * Calls one action on a control endpoint.
 *
 * @throws {@link PortMapError} `PORTMAP_REFUSED` with `resultCode`/`resultName` = the UPnP
 *   `errorCode`/`errorDescription` (the standard name when the device gave none),
 *   `PORTMAP_MALFORMED` (unreadable response), `PORTMAP_NETWORK` (connection failure, or an
 *   HTTP error without a UPnP fault); the signal's `TimeoutError`/`AbortError`.
 */
export async function soapCall(
  control: { readonly controlUrl: URL; readonly serviceType: string },
  action: string,
  args: SoapArguments,
  options: SoapCallOptions,
): Promise<SoapResult> {
  const exchange = await httpExchange(control.controlUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'text/xml; charset="utf-8"',
      SOAPAction: `"${control.serviceType}#${action}"`,
    },
    body: encodeSoapRequest(control.serviceType, action, args),
    agent: options.agent,
    signal: options.signal,
    maxBodyBytes: MAX_SOAP_RESPONSE_BYTES,
  })
  const { status, body, localAddress, remoteAddress } = exchange
  if (status === 200) {
    return { values: parseSoapResponse(body, action), localAddress, remoteAddress }
  }
  let fault: UpnpFault
  try {
    fault = parseSoapFault(body)
  } catch (err) {
    // A 500 must carry a fault; any other status without one is an HTTP-level failure.
    const code = status === 500 ? 'PORTMAP_MALFORMED' : 'PORTMAP_NETWORK'
    throw new PortMapError(code, `${action}: HTTP ${status} without a UPnP error`, { cause: err })
  }
  const resultName =
    fault.errorDescription || UPNP_ERROR_NAMES.get(fault.errorCode) || 'UnknownError'
  throw new PortMapError(
    'PORTMAP_REFUSED',
    `${action} refused: UPnP error ${fault.errorCode} ${resultName}`,
    { resultCode: fault.errorCode, resultName },
  )
}
