import { createSocket, type RemoteInfo } from 'node:dgram'
import { isIP } from 'node:net'
import { abortReason } from '@p2pd/interface'
import { DROPPED_REPLY_CODES, PortMapError } from '../errors.js'

/**
 * SSDP discovery of an Internet Gateway Device (UPnP Device Architecture 1.1 §1.3): send
 * M-SEARCH datagrams to the multicast group, read the unicast `HTTP/1.1 200 OK` answers,
 * take the first one that names an IGD.
 */

/** The SSDP multicast group and port. */
export const SSDP_MULTICAST_TARGET: SsdpTarget = { host: '239.255.255.250', port: 1900 }

/** Device types we search for, the newer first. */
export const IGD_DEVICE_TYPES = [
  'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
  'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
] as const

/** Largest SSDP response we read; real ones are a few hundred bytes. */
export const MAX_SSDP_RESPONSE_BYTES = 4096
/** More header lines than this is junk. */
const MAX_SSDP_HEADERS = 32
/** UPnP recommends a TTL of 2 so the search does not leave the LAN. */
const SSDP_MULTICAST_TTL = 2
/** How many rounds of M-SEARCH we send within the window (UDP may drop any of them). */
const SSDP_ROUNDS = 3

/** Where M-SEARCH goes. */
export interface SsdpTarget {
  readonly host: string
  readonly port: number
}

/** A parsed answer to an M-SEARCH. */
export interface SsdpResponse {
  /** The root description URL (`http:` only). */
  readonly location: URL
  /** The search target the device answers for. */
  readonly st: string
  /** Unique service name; empty when the device sent none. */
  readonly usn: string
  /** Every header, names upper-cased, the first occurrence of each. */
  readonly headers: ReadonlyMap<string, string>
}

/** An IGD that answered, and where it answered from. */
export interface DiscoveredIgd extends SsdpResponse {
  /** The IP address the answer came from. */
  readonly address: string
}

export interface DiscoverIgdOptions {
  /**
   * Our LAN address: the socket binds to it and multicasts through its interface. Default:
   * the address the routing table picks toward `gateway`, if given; else the system's
   * multicast route (a host without one fails with `PORTMAP_NETWORK`, `ENETUNREACH`).
   */
  readonly localAddress?: string
  /** Accept answers from this IP only. */
  readonly gateway?: string
  /** How long to wait for an answer. */
  readonly timeoutMs: number
  /** Where to send M-SEARCH (default: the SSDP multicast group; tests use loopback). */
  readonly target?: SsdpTarget
  /** The overall deadline: rejects with its reason. */
  readonly signal: AbortSignal
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const STATUS_LINE = /^HTTP\/1\.[01] 200(?: [\x20-\x7e]*)?$/
/** Bytes an SSDP response may contain: printable ASCII, tab, CR, LF. */
const BAD_BYTE = /[^\t\r\n\x20-\x7e]/

function malformed(message: string): PortMapError {
  return new PortMapError('PORTMAP_MALFORMED', `SSDP: ${message}`)
}

/** Builds one M-SEARCH request (MX 1: devices answer within a second). */
export function encodeMSearch(
  searchTarget: string,
  target: SsdpTarget = SSDP_MULTICAST_TARGET,
): Buffer {
  return Buffer.from(
    'M-SEARCH * HTTP/1.1\r\n' +
      `HOST: ${target.host}:${target.port}\r\n` +
      'MAN: "ssdp:discover"\r\n' +
      'MX: 1\r\n' +
      `ST: ${searchTarget}\r\n` +
      '\r\n',
    'latin1',
  )
}

/**
 * Parses an SSDP search response: `HTTP/1.x 200` status line, then `Name: value` header lines
 * up to an empty line. LOCATION (an `http:` URL) and ST are required.
 *
 * @throws {@link PortMapError} `PORTMAP_MALFORMED` on anything else: oversized, non-ASCII,
 *   another status, a bad header line, a missing or bad LOCATION.
 */
export function parseSsdpResponse(datagram: Uint8Array): SsdpResponse {
  if (datagram.length > MAX_SSDP_RESPONSE_BYTES) {
    throw malformed(`response of ${datagram.length} bytes exceeds ${MAX_SSDP_RESPONSE_BYTES}`)
  }
  const text = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length).toString('latin1')
  if (BAD_BYTE.test(text)) throw malformed('response has control or non-ASCII bytes')
  const lines = text.split(/\r?\n/)
  const status = lines[0] ?? ''
  if (!STATUS_LINE.test(status)) throw malformed(`not a 200 response: "${status.slice(0, 40)}"`)
  const headers = new Map<string, string>()
  let count = 0
  for (const line of lines.slice(1)) {
    if (line === '') break
    if (++count > MAX_SSDP_HEADERS) throw malformed(`more than ${MAX_SSDP_HEADERS} headers`)
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toUpperCase()
    if (colon <= 0 || !HEADER_NAME.test(name))
      throw malformed(`bad header line "${line.slice(0, 40)}"`)
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim())
  }
  const st = headers.get('ST')
  if (!st) throw malformed('no ST header')
  const locationText = headers.get('LOCATION')
  if (!locationText) throw malformed('no LOCATION header')
  let location: URL
  try {
    location = new URL(locationText)
  } catch {
    throw malformed(`LOCATION is not a URL: "${locationText.slice(0, 80)}"`)
  }
  if (location.protocol !== 'http:') throw malformed(`LOCATION is not http: ${location.protocol}`)
  return { location, st, usn: headers.get('USN') ?? '', headers }
}

/**
 * Searches for an Internet Gateway Device and resolves with the first valid answer.
 *
 * Sends M-SEARCH for IGD:2 and IGD:1 in {@link SSDP_ROUNDS} rounds spread over the window.
 * Drops (and keeps waiting after) answers that do not parse, that name another device type,
 * that come from another host than `gateway`, or whose LOCATION points to another host than
 * the one that answered — any LAN host can answer a multicast search, and following its
 * LOCATION elsewhere would let it send us to an arbitrary web server.
 *
 * @throws {@link PortMapError} `PORTMAP_NO_DEVICE` (window over without a valid answer;
 *   `cause`: the last dropped answer's error), `PORTMAP_NETWORK` (socket or send failure);
 *   the signal's `TimeoutError`/`AbortError`.
 */
export async function discoverIgd(options: DiscoverIgdOptions): Promise<DiscoveredIgd> {
  const { signal, gateway } = options
  const target = options.target ?? SSDP_MULTICAST_TARGET
  if (signal.aborted) throw abortReason(signal)
  const localAddress =
    options.localAddress ?? (gateway ? await sourceAddressToward(gateway) : undefined)
  const socket = createSocket({ type: 'udp4' })
  const timers: NodeJS.Timeout[] = []
  // Set once the socket is closed: a late bind callback must not send on it.
  let finished = false
  let onAbort = () => {}
  try {
    return await new Promise<DiscoveredIgd>((resolve, reject) => {
      let dropped = 0
      let lastDrop: PortMapError | undefined
      onAbort = () => reject(abortReason(signal))
      signal.addEventListener('abort', onAbort, { once: true })
      socket.on('error', (err) =>
        reject(new PortMapError('PORTMAP_NETWORK', `SSDP socket: ${err.message}`, { cause: err })),
      )
      socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
        try {
          resolve(acceptAnswer(msg, rinfo, gateway))
        } catch (err) {
          if (err instanceof PortMapError && DROPPED_REPLY_CODES.has(err.code)) {
            dropped++
            lastDrop = err
          } else reject(err)
        }
      })
      const search = () => {
        if (finished) return
        for (const st of IGD_DEVICE_TYPES) {
          socket.send(encodeMSearch(st, target), target.port, target.host, (err) => {
            if (err) {
              reject(
                new PortMapError('PORTMAP_NETWORK', `SSDP send to ${target.host}: ${err.message}`, {
                  cause: err,
                }),
              )
            }
          })
        }
      }
      socket.bind({ address: localAddress, port: 0, exclusive: true }, () => {
        if (finished) return
        try {
          if (isMulticast(target.host)) {
            socket.setMulticastTTL(SSDP_MULTICAST_TTL)
            if (localAddress) socket.setMulticastInterface(localAddress)
          }
        } catch (err) {
          reject(
            new PortMapError('PORTMAP_NETWORK', `SSDP socket: ${(err as Error).message}`, {
              cause: err,
            }),
          )
          return
        }
        search()
        for (let round = 1; round < SSDP_ROUNDS; round++) {
          timers.push(setTimeout(search, (options.timeoutMs * round) / SSDP_ROUNDS))
        }
        timers.push(
          setTimeout(() => {
            const from = gateway ? ` from ${gateway}` : ''
            const drops = dropped ? `; dropped ${dropped} (last: ${lastDrop?.message})` : ''
            reject(
              new PortMapError(
                'PORTMAP_NO_DEVICE',
                `no Internet Gateway Device answered SSDP${from} within ${options.timeoutMs} ms${drops}`,
                { cause: lastDrop },
              ),
            )
          }, options.timeoutMs),
        )
      })
    })
  } finally {
    finished = true
    signal.removeEventListener('abort', onAbort)
    for (const t of timers) clearTimeout(t)
    socket.removeAllListeners('message')
    try {
      socket.close()
    } catch {}
  }
}

/** Validates one answer; throws a dropped-reply code ({@link DROPPED_REPLY_CODES}) if it is not ours. */
function acceptAnswer(msg: Buffer, rinfo: RemoteInfo, gateway: string | undefined): DiscoveredIgd {
  if (gateway && rinfo.address !== gateway) {
    throw new PortMapError('PORTMAP_MISMATCH', `SSDP answer from ${rinfo.address}, not ${gateway}`)
  }
  const answer = parseSsdpResponse(msg)
  if (!(IGD_DEVICE_TYPES as readonly string[]).includes(answer.st)) {
    throw new PortMapError('PORTMAP_MISMATCH', `SSDP answer for ${answer.st}, not an IGD`)
  }
  if (answer.location.hostname !== rinfo.address) {
    throw new PortMapError(
      'PORTMAP_MISMATCH',
      `SSDP answer from ${rinfo.address} points to ${answer.location.host}`,
    )
  }
  return { ...answer, address: rinfo.address }
}

/**
 * The local address the kernel would send from toward `host`: connecting a UDP socket only
 * looks up the route, nothing is sent.
 */
async function sourceAddressToward(host: string): Promise<string | undefined> {
  const probe = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.connect(SSDP_MULTICAST_TARGET.port, host, () => resolve())
    })
    return probe.address().address
  } catch {
    return undefined // no route: let the search fail with its own error
  } finally {
    probe.close()
  }
}

function isMulticast(host: string): boolean {
  if (isIP(host) !== 4) return false
  const first = Number(host.split('.')[0])
  return first >= 224 && first <= 239
}
