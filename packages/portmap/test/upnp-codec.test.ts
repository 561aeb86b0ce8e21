import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { parseDescription } from '../src/upnp/description.js'
import {
  encodeSoapRequest,
  parseSoapFault,
  parseSoapResponse,
  type SoapArguments,
} from '../src/upnp/soap.js'
import { encodeMSearch, MAX_SSDP_RESPONSE_BYTES, parseSsdpResponse } from '../src/upnp/ssdp.js'
import {
  IGD1_WANIP,
  IGD2_WANIP,
  readSoapRequest,
  rootDescription,
  soapFault,
  soapResponse,
  ssdpAnswer,
  WANPPP,
} from './helpers/fake-igd.js'

const IGD2 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:2'
const LOCATION = new URL('http://10.1.0.1:34103/rootDesc.xml')

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(PortMapError)
    return (err as PortMapError).code
  }
  return undefined
}

/** Runs `fn` on untrusted input: it may return or throw PORTMAP_MALFORMED, nothing else. */
function onlyMalformed(fn: () => unknown): void {
  const code = codeOf(fn)
  if (code !== undefined) expect(code).toBe('PORTMAP_MALFORMED')
}

describe('SSDP', () => {
  it('builds an M-SEARCH with MX 1', () => {
    expect(encodeMSearch(IGD2).toString('latin1')).toBe(
      'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n' +
        `MX: 1\r\nST: ${IGD2}\r\n\r\n`,
    )
  })

  it('parses a miniupnpd answer', () => {
    const r = parseSsdpResponse(ssdpAnswer(LOCATION.href, IGD2, 'uuid:abc::' + IGD2))
    expect(r.location.href).toBe(LOCATION.href)
    expect(r.st).toBe(IGD2)
    expect(r.usn).toBe('uuid:abc::' + IGD2)
    expect(r.headers.get('SERVER')).toContain('MiniUPnPd')
    expect(r.headers.get('EXT')).toBe('')
  })

  it('accepts lower-case names, LF line ends, no final blank line and no USN', () => {
    const r = parseSsdpResponse(
      Buffer.from(`HTTP/1.0 200 OK\nlocation:  ${LOCATION.href}  \nst:${IGD2}`),
    )
    expect(r).toMatchObject({ st: IGD2, usn: '' })
  })

  it.each([
    ['a request', `NOTIFY * HTTP/1.1\r\nLOCATION: ${LOCATION.href}\r\nST: x\r\n\r\n`],
    ['another status', `HTTP/1.1 404 Not Found\r\nLOCATION: ${LOCATION.href}\r\nST: x\r\n\r\n`],
    ['no LOCATION', 'HTTP/1.1 200 OK\r\nST: x\r\n\r\n'],
    ['no ST', `HTTP/1.1 200 OK\r\nLOCATION: ${LOCATION.href}\r\n\r\n`],
    ['a bad URL', 'HTTP/1.1 200 OK\r\nLOCATION: ::nope\r\nST: x\r\n\r\n'],
    ['a non-http URL', 'HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\nST: x\r\n\r\n'],
    ['a line without colon', `HTTP/1.1 200 OK\r\nLOCATION: ${LOCATION.href}\r\nST x\r\n\r\n`],
    ['a bad header name', `HTTP/1.1 200 OK\r\nLO CATION: ${LOCATION.href}\r\nST: x\r\n\r\n`],
    ['control bytes', `HTTP/1.1 200 OK\r\nLOCATION: ${LOCATION.href}\r\nST: x\u0000\r\n\r\n`],
    ['non-ASCII', `HTTP/1.1 200 OK\r\nLOCATION: ${LOCATION.href}\r\nST: é\r\n\r\n`],
    ['too many headers', `HTTP/1.1 200 OK\r\n${'X: y\r\n'.repeat(40)}\r\n`],
    ['too many bytes', `HTTP/1.1 200 OK\r\nX: ${'y'.repeat(MAX_SSDP_RESPONSE_BYTES)}\r\n\r\n`],
  ])('rejects %s', (_name, text) => {
    expect(codeOf(() => parseSsdpResponse(Buffer.from(text, 'latin1')))).toBe('PORTMAP_MALFORMED')
  })

  it('round-trips LOCATION, ST and USN', () => {
    const token = fc.stringMatching(/^[!-~]{1,40}$/)
    fc.assert(
      fc.property(fc.webUrl({ validSchemes: ['http'] }), token, token, (location, st, usn) => {
        const r = parseSsdpResponse(ssdpAnswer(location, st, usn))
        expect(r.location.href).toBe(new URL(location).href)
        expect(r.st).toBe(st)
        expect(r.usn).toBe(usn)
      }),
    )
  })

  it('never throws anything but PORTMAP_MALFORMED on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        onlyMalformed(() => parseSsdpResponse(bytes))
      }),
      { numRuns: 2000 },
    )
    const line = fc.oneof(
      fc.constantFrom('HTTP/1.1 200 OK', 'LOCATION: http://1.2.3.4/', 'ST: x', '', ':', 'A:'),
      fc.string({ maxLength: 30 }),
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.boolean(), (lines, crlf) => {
        onlyMalformed(() => parseSsdpResponse(Buffer.from(lines.join(crlf ? '\r\n' : '\n'))))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('device description', () => {
  it('finds the WANIPConnection:2 control URL of miniupnpd', () => {
    expect(parseDescription(rootDescription(IGD2_WANIP), LOCATION)).toEqual({
      serviceType: IGD2_WANIP,
      version: 2,
      controlUrl: new URL('http://10.1.0.1:34103/ctl/IPConn'),
    })
  })

  it('prefers v2 over v1 over PPP, wherever they are in the tree', () => {
    const doc = (types: string[]) =>
      '<root><device><serviceList>' +
      types
        .map(
          (t, i) =>
            `<service><serviceType>${t}</serviceType><controlURL>/c${i}</controlURL></service>`,
        )
        .join('') +
      '</serviceList></device></root>'
    expect(parseDescription(doc([WANPPP, IGD1_WANIP]), LOCATION).controlUrl.pathname).toBe('/c1')
    expect(parseDescription(doc([WANPPP, IGD1_WANIP, IGD2_WANIP]), LOCATION).serviceType).toBe(
      IGD2_WANIP,
    )
    expect(parseDescription(doc([WANPPP]), LOCATION)).toMatchObject({
      serviceType: WANPPP,
      version: 1,
    })
  })

  it('resolves the control URL against URLBase, else the location', () => {
    const withBase = rootDescription(IGD1_WANIP, 'http://10.1.0.1:5000/')
    expect(parseDescription(withBase, LOCATION).controlUrl.href).toBe(
      'http://10.1.0.1:5000/ctl/IPConn',
    )
  })

  it('refuses a control URL on another host than the description', () => {
    const elsewhere = rootDescription(IGD1_WANIP, 'http://192.168.1.1:5000/')
    expect(codeOf(() => parseDescription(elsewhere, LOCATION))).toBe('PORTMAP_MALFORMED')
  })

  it('says PORTMAP_NO_DEVICE when there is no WAN connection service', () => {
    const doc =
      '<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1' +
      '</serviceType><controlURL>/x</controlURL></service></serviceList></device></root>'
    expect(codeOf(() => parseDescription(doc, LOCATION))).toBe('PORTMAP_NO_DEVICE')
  })

  it.each([
    ['not XML', 'hello'],
    ['another root', '<html><device/></html>'],
    ['no device', '<root/>'],
    [
      'no controlURL',
      `<root><device><service><serviceType>${IGD1_WANIP}</serviceType></service></device></root>`,
    ],
    [
      'a non-http controlURL',
      `<root><device><service><serviceType>${IGD1_WANIP}</serviceType><controlURL>ftp://x/</controlURL></service></device></root>`,
    ],
    [
      'a bad URLBase',
      `<root><URLBase>::</URLBase><device><service><serviceType>${IGD1_WANIP}</serviceType><controlURL>/c</controlURL></service></device></root>`,
    ],
  ])('rejects %s as PORTMAP_MALFORMED', (_name, doc) => {
    expect(codeOf(() => parseDescription(doc, LOCATION))).toBe('PORTMAP_MALFORMED')
  })

  it('never throws anything but PortMapError on random or mutated documents', () => {
    const valid = rootDescription(IGD2_WANIP)
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 40 }), fc.string({ maxLength: 8 }), (at, del, ins) => {
        const i = at % valid.length
        const code = codeOf(() =>
          parseDescription(valid.slice(0, i) + ins + valid.slice(i + del), LOCATION),
        )
        if (code) expect(['PORTMAP_MALFORMED', 'PORTMAP_NO_DEVICE']).toContain(code)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('SOAP', () => {
  const argsArb: fc.Arbitrary<SoapArguments> = fc.uniqueArray(
    fc.tuple(
      fc.stringMatching(/^New[A-Za-z]{1,12}$/),
      fc.string({ unit: 'binary', maxLength: 30 }),
    ),
    { maxLength: 8, selector: ([k]) => k },
  )

  it('builds an envelope with escaped values', () => {
    const xml = encodeSoapRequest(IGD1_WANIP, 'AddPortMapping', [
      ['NewRemoteHost', ''],
      ['NewPortMappingDescription', `<p2pd & "friends">`],
    ])
    expect(xml).toContain(`<u:AddPortMapping xmlns:u="${IGD1_WANIP}">`)
    expect(xml).toContain('&lt;p2pd &amp; &quot;friends&quot;&gt;')
    const { action, args } = readSoapRequest(xml)
    expect(action).toBe('AddPortMapping')
    expect(args.get('NewPortMappingDescription')).toBe(`<p2pd & "friends">`)
  })

  it('round-trips request arguments', () => {
    fc.assert(
      fc.property(argsArb, (args) => {
        const parsed = readSoapRequest(encodeSoapRequest(IGD2_WANIP, 'AddAnyPortMapping', args))
        expect(parsed.action).toBe('AddAnyPortMapping')
        expect([...parsed.args]).toEqual(args)
      }),
    )
  })

  it('round-trips response values (trimmed)', () => {
    fc.assert(
      fc.property(argsArb, (args) => {
        const values = parseSoapResponse(soapResponse(IGD1_WANIP, 'X', args), 'X')
        expect([...values]).toEqual(args.map(([k, v]) => [k, v.trim()]))
      }),
    )
  })

  it('reads a UPnP fault', () => {
    expect(parseSoapFault(soapFault(718, 'ConflictInMappingEntry'))).toEqual({
      errorCode: 718,
      errorDescription: 'ConflictInMappingEntry',
    })
    expect(parseSoapFault(soapFault(501, 'x'.repeat(1000))).errorDescription).toHaveLength(120)
  })

  it.each([
    ['a response to another action', () => parseSoapResponse(soapResponse(IGD1_WANIP, 'A'), 'B')],
    ['no envelope', () => parseSoapResponse('<Body/>', 'A')],
    ['no body', () => parseSoapResponse('<s:Envelope xmlns:s="x"/>', 'A')],
    ['a fault without UPnPError', () => parseSoapFault(soapResponse(IGD1_WANIP, 'A'))],
    ['a non-numeric errorCode', () => parseSoapFault(soapFault(718, 'x').replace('718', '7x8'))],
    ['an oversized response', () => parseSoapResponse(`<a>${' '.repeat(70_000)}</a>`, 'A')],
  ])('rejects %s as PORTMAP_MALFORMED', (_name, fn) => {
    expect(codeOf(fn)).toBe('PORTMAP_MALFORMED')
  })

  it('never throws anything but PORTMAP_MALFORMED on random or mutated envelopes', () => {
    const samples = [
      soapFault(725, 'OnlyPermanentLeasesSupported'),
      soapResponse(IGD2_WANIP, 'A', [['NewReservedPort', '5']]),
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.nat(),
        fc.nat({ max: 20 }),
        fc.string({ maxLength: 6 }),
        (doc, at, del, ins) => {
          const i = at % doc.length
          const text = doc.slice(0, i) + ins + doc.slice(i + del)
          onlyMalformed(() => parseSoapResponse(text, 'A'))
          onlyMalformed(() => parseSoapFault(text))
        },
      ),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        onlyMalformed(() => parseSoapResponse(text, 'A'))
        onlyMalformed(() => parseSoapFault(text))
      }),
      { numRuns: 1000 },
    )
  })
})
