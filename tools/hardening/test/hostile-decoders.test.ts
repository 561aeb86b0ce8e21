import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodePeerAddress, parseIp } from '@p2pd/address'
import { generateIdentity, loadIdentity, open } from '@p2pd/identity'
import { isP2pdError } from '@p2pd/interface'
import { parseCidr, parseProcIpv6Route, parseProcNetRoute } from '@p2pd/nat'
import { decodePreamble, encodePreamble } from '@p2pd/node'
import {
  decodePacket as decodeNtp,
  encodePacket as encodeNtp,
  parseServer as parseNtpServer,
  parseReply,
} from '@p2pd/ntp'
import { parseAnswer, parseOffer, parseReady } from '@p2pd/punch'
import * as signal from '@p2pd/signal-mqtt'
import {
  createMessage,
  decodeAddress,
  decodeChangeRequest,
  decodeErrorCode,
  decodeMessage,
  decodeResponsePort,
  decodeText,
  decodeUint32,
  decodeUnknownAttributes,
  decodeXorAddress,
  encodeMessage,
  parseServer as parseStunServer,
  readAttributes,
  StunClass,
  StunFramer,
  StunMethod,
} from '@p2pd/stun'
import {
  decodePacket as decodeStreamPacket,
  encodeAck,
  encodeData,
  parsePasswordAlgorithms,
} from '@p2pd/turn'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
// Internal decoders (not in a package index) and @p2pd/portmap, by path.
import { FrameOpener } from '../../../packages/identity/src/frame-opener.js'
import { FrameDecoder } from '../../../packages/identity/src/framing.js'
import { verifyIdentityPayload } from '../../../packages/identity/src/handshake-payload.js'
import { decodeHello, encodeHello } from '../../../packages/identity/src/hello.js'
import { CipherState } from '../../../packages/identity/src/noise/cipher-state.js'
import { sealFrame } from '../../../packages/identity/src/transport-frame.js'
import {
  decodeNatPmpReply,
  decodePcpMapReply,
  parseRouteTable,
} from '../../../packages/portmap/src/index.js'
import { parseDescription } from '../../../packages/portmap/src/upnp/description.js'
import { parseSoapFault, parseSoapResponse } from '../../../packages/portmap/src/upnp/soap.js'
import { parseSsdpResponse } from '../../../packages/portmap/src/upnp/ssdp.js'
import { decodeEntities, parseXml } from '../../../packages/portmap/src/upnp/xml.js'

/**
 * Every decoder that reads what a stranger sends gets hostile input — random bytes,
 * truncations and bit flips of valid encodings, random JSON-ish values — and may only return or
 * throw a typed P2pdError: never another exception, never a hang (each call must finish fast).
 */
const RUNS = 150
const SLOW_MS = 250

function typedOnly(name: string, call: () => unknown): void {
  const t0 = performance.now()
  let thrown: unknown
  try {
    call()
  } catch (err) {
    thrown = err
  }
  if (thrown !== undefined && !isP2pdError(thrown)) {
    throw new Error(`${name} threw a non-P2pdError: ${String(thrown)}`, { cause: thrown })
  }
  const ms = performance.now() - t0
  if (ms > SLOW_MS) throw new Error(`${name} took ${ms.toFixed(0)} ms on one input`)
}

/** Random bytes, plus truncations and bit flips of each valid encoding. */
function hostileBytes(valid: readonly Uint8Array[], maxLength = 600): fc.Arbitrary<Uint8Array> {
  const base = fc.constantFrom(...valid)
  return fc.oneof(
    fc.uint8Array({ maxLength }),
    base.chain((v) => fc.nat(v.length).map((n) => v.subarray(0, n))),
    base.chain((v) =>
      fc
        .array(fc.nat(Math.max(0, v.length * 8 - 1)), { minLength: 1, maxLength: 4 })
        .map((bits) => {
          const out = Uint8Array.from(v)
          for (const b of bits) out[b >> 3] = (out[b >> 3] as number) ^ (1 << (b & 7))
          return out
        }),
    ),
    base.chain((v) => fc.uint8Array({ maxLength: 64 }).map((tail) => Buffer.concat([v, tail]))),
  )
}

/** Random strings, plus truncations and single-character edits of each valid text. */
function hostileText(valid: readonly string[], maxLength = 400): fc.Arbitrary<string> {
  const base = fc.constantFrom(...valid)
  return fc.oneof(
    fc.string({ maxLength }),
    fc.string({ maxLength, unit: 'binary' }),
    base.chain((v) => fc.nat(v.length).map((n) => v.slice(0, n))),
    base.chain((v) =>
      fc
        .tuple(fc.nat(Math.max(0, v.length - 1)), fc.string({ minLength: 1, maxLength: 3 }))
        .map(([at, s]) => v.slice(0, at) + s + v.slice(at + 1)),
    ),
  )
}

/** Random JSON-ish values, plus each valid object with one field replaced by anything. */
function hostileValue(valid: readonly Record<string, unknown>[]): fc.Arbitrary<unknown> {
  const base = fc.constantFrom(...valid)
  return fc.oneof(
    fc.anything(),
    fc.jsonValue(),
    base.chain((v) =>
      fc
        .tuple(fc.constantFrom(...Object.keys(v)), fc.anything())
        .map(([k, x]) => ({ ...v, [k]: x })),
    ),
  )
}

function bytesProperty(name: string, valid: Uint8Array[], decode: (b: Uint8Array) => unknown) {
  it(name, () => {
    fc.assert(
      fc.property(hostileBytes(valid), (b) => typedOnly(name, () => decode(b))),
      { numRuns: RUNS },
    )
  })
}

function textProperty(name: string, valid: string[], decode: (s: string) => unknown) {
  it(name, () => {
    fc.assert(
      fc.property(hostileText(valid), (s) => typedOnly(name, () => decode(s))),
      { numRuns: RUNS },
    )
  })
}

function valueProperty(
  name: string,
  valid: Record<string, unknown>[],
  parse: (v: unknown) => unknown,
) {
  it(name, () => {
    fc.assert(
      fc.property(hostileValue(valid), (v) => typedOnly(name, () => parse(v))),
      { numRuns: RUNS },
    )
  })
}

const alice = generateIdentity()
const bob = generateIdentity()
const address = '0,1-[1,0,8.8.8.8,192.168.21.21,58959,3,2,0]-0-zmUGXPOFxUBuToh-easdasd'

describe('hostile input to every decoder: only typed P2pdErrors come out', () => {
  describe('@p2pd/address', () => {
    textProperty('decodePeerAddress', [address], decodePeerAddress)
    textProperty('parseIp', ['192.168.1.1', '::1', 'fe80::1%eth0'], parseIp)
  })

  describe('@p2pd/stun', () => {
    const request = encodeMessage(
      createMessage({ method: StunMethod.Binding, cls: StunClass.Request }),
      { fingerprint: true },
    )
    bytesProperty('decodeMessage', [request], (b) => decodeMessage(b, { allowLegacy: true }))
    bytesProperty('decodeMessage + readAttributes', [request], (b) =>
      readAttributes(decodeMessage(b)),
    )
    bytesProperty('StunFramer', [request], (b) => new StunFramer().push(b))
    // TURN over TCP: ChannelData (channel ‖ length ‖ data, padded to 4) interleaved with STUN.
    const channelData = Buffer.from([0x40, 0x01, 0, 5, 104, 101, 108, 108, 111, 0, 0, 0])
    bytesProperty('StunFramer with TURN ChannelData', [channelData, request], (b) =>
      new StunFramer({ channelData: true }).push(b),
    )
    const v4 = Uint8Array.of(0, 1, 0x12, 0x34, 192, 0, 2, 1)
    const v6 = Buffer.concat([Buffer.from([0, 2, 0x12, 0x34]), Buffer.alloc(16, 1)])
    const tid = new Uint8Array(12)
    bytesProperty('decodeAddress', [v4, v6], decodeAddress)
    bytesProperty('decodeXorAddress', [v4, v6], (b) => decodeXorAddress(b, tid))
    bytesProperty('decodeChangeRequest', [Uint8Array.of(0, 0, 0, 6)], decodeChangeRequest)
    bytesProperty('decodeErrorCode', [Buffer.from('\0\0\x04\x01Unauthorized')], decodeErrorCode)
    bytesProperty('decodeUnknownAttributes', [Uint8Array.of(0, 1, 0, 2)], decodeUnknownAttributes)
    bytesProperty('decodeText', [Buffer.from('realm')], (b) => decodeText(b, 128))
    bytesProperty('decodeResponsePort', [Uint8Array.of(0x12, 0x34, 0, 0)], decodeResponsePort)
    bytesProperty('decodeUint32', [Uint8Array.of(0, 0, 0, 1)], decodeUint32)
    textProperty('parseServer', ['stun.example.net:3478', '[::1]:3478'], (s) => parseStunServer(s))
  })

  describe('@p2pd/ntp', () => {
    const packet = encodeNtp({ mode: 4, version: 4, stratum: 2 })
    bytesProperty('decodePacket', [packet], decodeNtp)
    textProperty('parseServer', ['pool.ntp.org', '127.0.0.1:123'], (s) => parseNtpServer(s))
    bytesProperty('parseReply', [packet], (b) =>
      parseReply(b, { origin: { seconds: 1, fraction: 2 }, sentAt: 0, receivedAt: 1 } as never),
    )
  })

  describe('@p2pd/turn', () => {
    const data = encodeData(7, 100, 3, Buffer.from('hi'))
    const ack = encodeAck({
      conv: 7,
      ts: 1,
      cumAck: 3,
      window: 64,
      echoTs: 5,
      probe: false,
      ranges: [{ start: 5, end: 6 }],
    } as never)
    bytesProperty('stream decodePacket', [data, ack], decodeStreamPacket)
    bytesProperty('parsePasswordAlgorithms', [Uint8Array.of(0, 2, 0, 0, 0, 1, 0, 0)], (b) =>
      parsePasswordAlgorithms(b),
    )
  })

  describe('@p2pd/identity', () => {
    const hello = encodeHello({
      wantsInitiator: true,
      ciphers: ['ChaChaPoly', 'AESGCM'],
      nonce: Buffer.alloc(16, 7),
    })
    bytesProperty('decodeHello', [hello], (b) => decodeHello(Buffer.from(b)))
    bytesProperty('FrameDecoder', [Uint8Array.of(0, 3, 1, 2, 3)], (b) => {
      const d = new FrameDecoder()
      d.push(Buffer.from(b))
      while (d.next()) {}
    })
    // Transport frames after the handshake: the receiving side's opener, fresh per input.
    const frameKey = Buffer.alloc(32, 9)
    const cipher = () => {
      const c = new CipherState()
      c.initializeKey(frameKey)
      return c
    }
    const sealed = Buffer.concat([
      sealFrame(cipher(), Buffer.from('first frame'), 2 ** 20),
      sealFrame(cipher(), new Uint8Array(0), 2 ** 20),
    ])
    bytesProperty('FrameOpener (transport frames)', [sealed], (b) =>
      new FrameOpener(cipher(), 2 ** 20).push(Buffer.from(b), () => {}),
    )
    bytesProperty('verifyIdentityPayload', [new Uint8Array(97)], (b) =>
      verifyIdentityPayload(Buffer.from(b), Buffer.alloc(32, 1)),
    )
    const box = signal.sealEnvelope(alice, bob.nodeId, {
      v: 1,
      id: signal.newMessageId(),
      ts: Date.now(),
      from: alice.nodeId,
      sid: '0123456789abcdef',
      seq: 0,
      type: 'app/x',
      body: 1,
    })
    bytesProperty('sealed box open', [box.subarray(1)], (b) => open(bob, b))
    it('loadIdentity (key file contents)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'p2pd-keyfile-'))
      const path = join(dir, 'key')
      const valid = JSON.stringify({
        type: 'p2pd-identity',
        version: 1,
        secretKey: 'ab'.repeat(32),
      })
      try {
        await fc.assert(
          fc.asyncProperty(hostileText([valid, 'ab'.repeat(32)]), async (text) => {
            writeFileSync(path, text, { mode: 0o600 })
            await loadIdentity(path).catch((err) => {
              if (!isP2pdError(err)) throw new Error(`loadIdentity threw ${String(err)}`)
            })
          }),
          { numRuns: 60 },
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })

  describe('@p2pd/signal-mqtt', () => {
    const envelope = signal.sealEnvelope(alice, bob.nodeId, {
      v: 1,
      id: signal.newMessageId(),
      ts: Date.now(),
      from: alice.nodeId,
      sid: '0123456789abcdef',
      seq: 0,
      type: 'app/x',
      body: { n: 1 },
    })
    bytesProperty('openEnvelope', [envelope], (b) => signal.openEnvelope(bob, b))
    const token = 'ab'.repeat(16)
    const endpoint = { host: '198.18.0.1', port: 4000 }
    valueProperty('parseReverseRequest', [{ token, address }], signal.parseReverseRequest)
    valueProperty('parseAddressGet', [{ id: token, address }], signal.parseAddressGet)
    valueProperty('parseAddressReturn', [{ id: token, address }], signal.parseAddressReturn)
    valueProperty('parseTurnOffer', [{ id: 1, address, relayed: endpoint }], signal.parseTurnOffer)
    valueProperty('parseTurnAnswer', [{ id: 1, relayed: endpoint }], signal.parseTurnAnswer)
    const punch = { id: token, address, mappings: [endpoint], meetAt: 1 }
    valueProperty('parsePunchOffer', [punch], signal.parsePunchOffer)
    valueProperty('parsePunchAnswer', [punch], signal.parsePunchAnswer)
    valueProperty('parsePunchReady', [{ id: token, kind: 'go' }], signal.parsePunchReady)
    valueProperty('parseAppBody', [{ text: 'hi' }], (v) => signal.parseAppBody('app/x', v))
    valueProperty('validateSignalMessage', [{ type: 'app/x', body: 1 }], (v) =>
      signal.validateSignalMessage(v as never),
    )
  })

  describe('@p2pd/punch', () => {
    const nat = { type: 5, delta: { type: 2, value: 0 } }
    const offer = {
      v: 1,
      id: 'ab'.repeat(16),
      address: 'p2pd-address-text',
      mode: 'remote',
      mappings: [{ host: '198.18.0.30', port: 40000 }],
      candidatePorts: [50001, 50002],
      nat,
      uncertaintyMs: 12.5,
      sentAt: 1_700_000_000_000,
      meetAt: 1_700_000_003_000,
    }
    valueProperty('parseOffer', [offer], parseOffer)
    valueProperty('parseAnswer', [{ ...offer, heldMs: 80 }], parseAnswer)
    valueProperty('parseReady', [{ v: 1, kind: 'ack', id: offer.id }], parseReady)
  })

  describe('@p2pd/node', () => {
    bytesProperty('decodePreamble', [encodePreamble(1, 'ab'.repeat(16))], decodePreamble)
  })

  describe('@p2pd/nat', () => {
    textProperty('parseCidr', ['10.0.0.0/8', 'fe80::/10'], parseCidr)
    const route = 'Iface\tDestination\tGateway\tFlags\neth0\t00000000\t0101A8C0\t0003\n'
    textProperty('parseProcNetRoute', [route], parseProcNetRoute)
    textProperty('parseProcIpv6Route', ['0'.repeat(32)], parseProcIpv6Route)
  })

  describe('@p2pd/portmap', () => {
    const pcp = new Uint8Array(60)
    pcp.set([2, 0x81, 0, 0], 0)
    bytesProperty('decodePcpMapReply', [pcp], decodePcpMapReply)
    bytesProperty('decodeNatPmpReply', [Uint8Array.of(0, 128, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4)], (b) =>
      decodeNatPmpReply(b),
    )
    textProperty(
      'parseRouteTable',
      ['Iface\tDestination\tGateway\neth0\t00000000\t0101A8C0\n'],
      (s) => parseRouteTable(s),
    )
    const xml =
      '<?xml version="1.0"?><root xmlns="urn:x"><device><serviceList><service>' +
      '<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>' +
      '<controlURL>/ctl</controlURL></service></serviceList></device></root>'
    textProperty('parseXml', [xml, '<a b="&amp;">t&lt;</a>'], (s) => parseXml(s))
    textProperty('decodeEntities', ['a &amp; b &#x41; &#65;'], decodeEntities)
    textProperty('parseDescription', [xml], (s) =>
      parseDescription(s, new URL('http://127.0.0.1/')),
    )
    const soap =
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' +
      '<u:GetExternalIPAddressResponse xmlns:u="urn:x"><NewExternalIPAddress>1.2.3.4' +
      '</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>'
    textProperty('parseSoapResponse', [soap], (s) => parseSoapResponse(s, 'GetExternalIPAddress'))
    textProperty('parseSoapFault', [soap], parseSoapFault)
    const ssdp = Buffer.from(
      'HTTP/1.1 200 OK\r\nLOCATION: http://127.0.0.1:5000/desc.xml\r\n' +
        'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:x\r\n\r\n',
    )
    bytesProperty('parseSsdpResponse', [ssdp], parseSsdpResponse)
  })

  it('the harness fails on an untyped throw (so the properties above can fail)', () => {
    expect(() =>
      typedOnly('broken', () => {
        throw new TypeError('boom')
      }),
    ).toThrow(/non-P2pdError/)
  })
})
