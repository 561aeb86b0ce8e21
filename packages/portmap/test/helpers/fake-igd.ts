import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { childElement, escapeXml, parseXml } from '../../src/upnp/xml.js'

/**
 * A fake UPnP Internet Gateway Device on 127.0.0.1: a root description modelled on
 * miniupnpd 2.3's and a SOAP control endpoint with a port-mapping table. It answers the
 * refusals a real gateway gives (718, 725, 714, 606, …) by its rules or on demand.
 */

export const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
export const IGD1_WANIP = 'urn:schemas-upnp-org:service:WANIPConnection:1'
export const IGD2_WANIP = 'urn:schemas-upnp-org:service:WANIPConnection:2'
export const WANPPP = 'urn:schemas-upnp-org:service:WANPPPConnection:1'

export interface FakeMapping {
  readonly protocol: string
  readonly externalPort: number
  readonly internalClient: string
  readonly internalPort: number
  readonly description: string
  readonly lease: number
}

/** One SOAP request the fake received. */
export interface ReceivedAction {
  readonly action: string
  readonly args: ReadonlyMap<string, string>
  readonly soapAction: string | undefined
  readonly contentType: string | undefined
}

export interface FakeIgdOptions {
  /** The WAN service to offer (default WANIPConnection:1, in an IGD:1 device). */
  readonly serviceType?: string
  /** Give the description this `URLBase` (resolved against it instead of the location). */
  readonly urlBase?: string
  /** Replace the description document entirely. */
  readonly description?: string
  /** `GetExternalIPAddress` answer (default 198.51.100.7). */
  readonly externalAddress?: string
  /** Answer 725 to any lease other than 0 (like some IGD:1 routers). */
  readonly permanentLeasesOnly?: boolean
  /** Refuse (606) mappings to another address than the requester's, like miniupnpd secure_mode. */
  readonly secureMode?: boolean
}

export interface FakeIgd {
  readonly port: number
  readonly location: string
  /** Control path (relative), as the description names it. */
  readonly controlPath: string
  /** The mapping table, keyed `${PROTOCOL} ${externalPort}`. */
  readonly mappings: Map<string, FakeMapping>
  readonly actions: ReceivedAction[]
  /** How many times the description was fetched. */
  descriptionFetches: number
  externalAddress: string
  /** When true, requests get no answer at all (the connection stays open). */
  hang: boolean
  /** Queue an error answer to the next call of `action`. */
  failNext(action: string, errorCode: number, errorDescription?: string): void
  /** Answer the next call of `action` with this raw HTTP status and body. */
  rawNext(action: string, status: number, body: string): void
  close(): Promise<void>
}

/** A root description shaped like miniupnpd 2.3.1's (trimmed of vendor details). */
export function rootDescription(serviceType = IGD1_WANIP, urlBase?: string): string {
  const v = serviceType === IGD2_WANIP ? 2 : 1
  const wanConnectionService =
    `<service><serviceType>${serviceType}</serviceType>` +
    '<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL>' +
    '<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service>'
  return (
    '<?xml version="1.0"?>\r\n' +
    '<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">' +
    '<specVersion><major>1</major><minor>1</minor></specVersion>' +
    (urlBase ? `<URLBase>${escapeXml(urlBase)}</URLBase>` : '') +
    `<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:${v}</deviceType>` +
    '<friendlyName>Fake &amp; router</friendlyName><manufacturer>p2pd</manufacturer>' +
    '<UDN>uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b</UDN>' +
    '<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>' +
    '<serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL>' +
    '<controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service></serviceList>' +
    '<deviceList><device>' +
    `<deviceType>urn:schemas-upnp-org:device:WANDevice:${v}</deviceType>` +
    '<friendlyName>WANDevice</friendlyName><!-- a comment, <not> markup -->' +
    '<serviceList><service>' +
    '<serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>' +
    '<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><SCPDURL>/WANCfg.xml</SCPDURL>' +
    '<controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL>' +
    '</service></serviceList>' +
    '<deviceList><device>' +
    `<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:${v}</deviceType>` +
    `<friendlyName>WANConnectionDevice</friendlyName><serviceList>${wanConnectionService}` +
    '</serviceList></device></deviceList></device></deviceList>' +
    '<presentationURL>http://127.0.0.1/</presentationURL></device></root>\r\n'
  )
}

/** A SOAP response envelope the way miniupnpd writes it. */
export function soapResponse(
  serviceType: string,
  action: string,
  values: readonly (readonly [string, string])[] = [],
): string {
  const body = values.map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('')
  return (
    `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="${SOAP_ENV}" ` +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' +
    `<u:${action}Response xmlns:u="${serviceType}">${body}</u:${action}Response>` +
    '</s:Body></s:Envelope>\r\n'
  )
}

/** A UPnP fault envelope the way miniupnpd writes it. */
export function soapFault(errorCode: number, errorDescription: string): string {
  return (
    `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="${SOAP_ENV}" ` +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault>' +
    '<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>' +
    '<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">' +
    `<errorCode>${errorCode}</errorCode><errorDescription>${escapeXml(errorDescription)}` +
    '</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>\r\n'
  )
}

/** Reads a SOAP request: the action (body's first element) and its arguments. */
export function readSoapRequest(xml: string): { action: string; args: Map<string, string> } {
  const envelope = parseXml(xml)
  const call = childElement(envelope, 'Body')?.children[0]
  if (envelope.localName !== 'Envelope' || !call) throw new Error('not a SOAP request')
  return {
    action: call.localName,
    args: new Map(call.children.map((c) => [c.localName, c.text])),
  }
}

const ERROR_NAMES: Record<number, string> = {
  401: 'Invalid Action',
  402: 'Invalid Args',
  606: 'Action not authorized',
  714: 'NoSuchEntryInArray',
  718: 'ConflictInMappingEntry',
  725: 'OnlyPermanentLeasesSupported',
}

export async function startFakeIgd(options: FakeIgdOptions = {}): Promise<FakeIgd> {
  const serviceType = options.serviceType ?? IGD1_WANIP
  const queued: { action: string; status: number; body: string }[] = []
  const server = createServer((req, res) => {
    if (igd.hang) return
    void handle(req, res).catch((err: unknown) => {
      res.statusCode = 400
      res.end(String(err))
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    res.setHeader('Content-Type', 'text/xml; charset="utf-8"')
    if (req.method === 'GET' && req.url === '/rootDesc.xml') {
      igd.descriptionFetches++
      res.end(options.description ?? rootDescription(serviceType, options.urlBase))
      return
    }
    if (req.method !== 'POST' || req.url !== igd.controlPath) {
      res.statusCode = 404
      res.end('not found')
      return
    }
    const { action, args } = readSoapRequest(body)
    const soapAction = req.headers['soapaction'] as string | undefined
    igd.actions.push({ action, args, soapAction, contentType: req.headers['content-type'] })
    const answer = (status: number, text: string) => {
      res.statusCode = status
      res.end(text)
    }
    const fault = (code: number) => answer(500, soapFault(code, ERROR_NAMES[code] ?? 'Error'))
    const i = queued.findIndex((q) => q.action === action)
    if (i !== -1) {
      const [q] = queued.splice(i, 1)
      return answer(q!.status, q!.body)
    }
    if (soapAction !== `"${serviceType}#${action}"`) return fault(401)
    const requester = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
    const ok = (values: readonly (readonly [string, string])[] = []) =>
      answer(200, soapResponse(serviceType, action, values))
    switch (action) {
      case 'GetExternalIPAddress':
        return ok([['NewExternalIPAddress', igd.externalAddress]])
      case 'AddPortMapping':
      case 'AddAnyPortMapping': {
        const mapping: FakeMapping = {
          protocol: args.get('NewProtocol') ?? '',
          externalPort: Number(args.get('NewExternalPort')),
          internalClient: args.get('NewInternalClient') ?? '',
          internalPort: Number(args.get('NewInternalPort')),
          description: args.get('NewPortMappingDescription') ?? '',
          lease: Number(args.get('NewLeaseDuration')),
        }
        if (!['TCP', 'UDP'].includes(mapping.protocol) || !(mapping.internalPort > 0)) {
          return fault(402)
        }
        if (options.secureMode !== false && mapping.internalClient !== requester) return fault(606)
        if (options.permanentLeasesOnly && mapping.lease !== 0) return fault(725)
        const mine = (port: number) => {
          const other = igd.mappings.get(`${mapping.protocol} ${port}`)
          // Like miniupnpd (and the IGD spec): the same client overwrites its own entry.
          return !other || other.internalClient === mapping.internalClient
        }
        let port = mapping.externalPort
        if (!mine(port)) {
          if (action === 'AddPortMapping') return fault(718)
          port = 50_000
          while (!mine(port)) port++
        }
        igd.mappings.set(`${mapping.protocol} ${port}`, { ...mapping, externalPort: port })
        return action === 'AddPortMapping' ? ok() : ok([['NewReservedPort', String(port)]])
      }
      case 'GetSpecificPortMappingEntry': {
        const m = igd.mappings.get(`${args.get('NewProtocol')} ${args.get('NewExternalPort')}`)
        if (!m) return fault(714)
        return ok([
          ['NewInternalPort', String(m.internalPort)],
          ['NewInternalClient', m.internalClient],
          ['NewEnabled', '1'],
          ['NewPortMappingDescription', m.description],
          ['NewLeaseDuration', String(m.lease)],
        ])
      }
      case 'DeletePortMapping': {
        const key = `${args.get('NewProtocol')} ${args.get('NewExternalPort')}`
        if (!igd.mappings.delete(key)) return fault(714)
        return ok()
      }
      default:
        return fault(401)
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const igd: FakeIgd = {
    port,
    location: `http://127.0.0.1:${port}/rootDesc.xml`,
    controlPath: '/ctl/IPConn',
    mappings: new Map(),
    actions: [],
    descriptionFetches: 0,
    externalAddress: options.externalAddress ?? '198.51.100.7',
    hang: false,
    failNext(action, errorCode, errorDescription = ERROR_NAMES[errorCode] ?? 'Error') {
      queued.push({ action, status: 500, body: soapFault(errorCode, errorDescription) })
    },
    rawNext(action, status, body) {
      queued.push({ action, status, body })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return igd
}

/** An SSDP search answer the way miniupnpd sends it. */
export function ssdpAnswer(location: string, st: string, usn = `uuid:fake::${st}`): Buffer {
  return Buffer.from(
    'HTTP/1.1 200 OK\r\n' +
      'CACHE-CONTROL: max-age=120\r\n' +
      `ST: ${st}\r\n` +
      `USN: ${usn}\r\n` +
      'EXT:\r\n' +
      'SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n' +
      `LOCATION: ${location}\r\n` +
      'OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01\r\n' +
      'BOOTID.UPNP.ORG: 1\r\n' +
      'CONFIGID.UPNP.ORG: 1337\r\n' +
      '\r\n',
    'latin1',
  )
}

/** One datagram the fake SSDP responder sends, from 127.0.0.1 or another loopback address. */
export interface SsdpReply {
  readonly bytes: Uint8Array
  readonly from?: string
}

export interface FakeSsdp {
  /** Where to send M-SEARCH: pass as `ssdpTarget`. */
  readonly target: { host: string; port: number }
  /** Every M-SEARCH received, as text. */
  readonly searches: string[]
  close(): Promise<void>
}

/**
 * A loopback SSDP responder: for each M-SEARCH it sends `reply(search)`'s datagrams back to
 * the searcher (nothing ever leaves 127.0.0.0/8).
 */
export async function startFakeSsdp(
  reply: (search: string, from: RemoteInfo) => readonly SsdpReply[],
): Promise<FakeSsdp> {
  const sockets = new Map<string, Socket>()
  const bound = async (address: string): Promise<Socket> => {
    const existing = sockets.get(address)
    if (existing) return existing
    const socket = createSocket('udp4')
    sockets.set(address, socket)
    await new Promise<void>((resolve) => socket.bind(0, address, resolve))
    return socket
  }
  const main = await bound('127.0.0.1')
  const searches: string[] = []
  main.on('message', (msg, rinfo) => {
    const search = msg.toString('latin1')
    searches.push(search)
    void (async () => {
      for (const r of reply(search, rinfo)) {
        const socket = await bound(r.from ?? '127.0.0.1')
        socket.send(r.bytes, rinfo.port, rinfo.address)
      }
    })()
  })
  return {
    target: { host: '127.0.0.1', port: main.address().port },
    searches,
    close: async () => {
      for (const s of sockets.values()) await new Promise<void>((resolve) => s.close(resolve))
    },
  }
}
