import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { NtpError } from './errors.js'
import { localNow } from './local-clock.js'
import { decodePacket, encodePacket, NTP_PACKET_SIZE, NtpMode, refIdFromString } from './packet.js'
import { msToNtp } from './timestamp.js'

export interface SntpServerOptions {
  /** Address to bind (default `127.0.0.1`; `::1`, `0.0.0.0`, `::` work too). */
  host?: string
  /** Port to bind (default 0: a random free port; 123 needs root). */
  port?: number
  /** Added to the local clock in every timestamp we send, ms (default 0). */
  offsetMs?: number
  /** Stratum to announce, 1–15 (default 2). */
  stratum?: number
  /** Reference ID, up to four ASCII characters (default `LOCL`). */
  refId?: string
  /** Leap indicator to announce (default 0). */
  leap?: number
  /**
   * Sends Kiss-o'-Death instead of time: stratum 0, leap 3, this code as reference ID
   * (`RATE`, `DENY`, `RSTR`, …). For tests of clients.
   */
  kissCode?: string
  /**
   * Holds each reply after stamping it, so the delay is on the wire (return path only):
   * a client sees `delay` grow by this and its offset shift by −half of it. Tests use it to
   * check that error stays within delay/2. Default 0.
   */
  wireDelayMs?: number
  /**
   * Holds each reply between the receive and transmit stamps: honest server processing time,
   * invisible in a client's offset and delay. Default 0.
   */
  processingDelayMs?: number
  /** At most this many replies held back by the delays at once; more are dropped (default 1024). */
  maxPending?: number
}

/**
 * A small SNTP server (RFC 4330 server mode) for tests, demos and self-hosting: it answers
 * mode-3 requests with mode-4 replies stamped from the local clock plus `offsetMs`. Anything
 * else (short, wrong mode, version 0 or > 4) is ignored.
 *
 * @example
 * ```ts
 * const server = new SntpServer({ offsetMs: 1500 })
 * const { host, port } = await server.start()
 * // querySntp({ host, port }) now measures an offset of about +1500 ms
 * await server.close()
 * ```
 */
export class SntpServer {
  /** Settable while running: the next replies use the new value. */
  offsetMs: number
  readonly #opts: SntpServerOptions
  #socket: Socket | undefined
  #address: { host: string; port: number; family: 4 | 6 } | undefined
  readonly #timers = new Set<NodeJS.Timeout>()
  #answered = 0

  constructor(options: SntpServerOptions = {}) {
    const stratum = options.stratum ?? 2
    if (!Number.isInteger(stratum) || stratum < 1 || stratum > 15) {
      throw new NtpError('NTP_BAD_STRATUM', `server stratum must be 1–15, got ${stratum}`)
    }
    this.#opts = options
    this.offsetMs = options.offsetMs ?? 0
  }

  /** Where it listens, once started. */
  get address(): { host: string; port: number; family: 4 | 6 } | undefined {
    return this.#address
  }

  /** Requests answered so far. */
  get answered(): number {
    return this.#answered
  }

  /** Binds and starts answering; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number; family: 4 | 6 }> {
    if (this.#address) return this.#address
    const host = this.#opts.host ?? '127.0.0.1'
    const family = isIP(host) === 6 ? 6 : 4
    const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) =>
        reject(new NtpError('NTP_NETWORK', `cannot bind ${host}: ${err.message}`, { cause: err })),
      )
      socket.bind(this.#opts.port ?? 0, host, () => resolve())
    })
    socket.removeAllListeners('error')
    // A reply that cannot be sent (peer gone) is not the server's problem.
    socket.on('error', () => {})
    socket.on('message', (msg, rinfo) => this.#onRequest(msg, rinfo))
    this.#socket = socket
    this.#address = { host, port: socket.address().port, family }
    return this.#address
  }

  /** Stops answering, drops held-back replies and closes the socket. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    const socket = this.#socket
    this.#socket = undefined
    this.#address = undefined
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  #now(): number {
    return localNow() + this.offsetMs
  }

  #onRequest(msg: Buffer, rinfo: RemoteInfo): void {
    const t1 = this.#now()
    if (msg.byteLength < NTP_PACKET_SIZE) return
    const req = decodePacket(msg)
    if (req.mode !== NtpMode.Client || req.version < 1 || req.version > 4) return
    const o = this.#opts
    const pending = this.#timers.size
    if (pending >= (o.maxPending ?? 1024)) return

    const build = () => {
      const t2 = this.#now()
      const kiss = o.kissCode !== undefined
      return encodePacket({
        leap: kiss ? 3 : (o.leap ?? 0),
        version: req.version,
        mode: NtpMode.Server,
        stratum: kiss ? 0 : (o.stratum ?? 2),
        poll: req.poll,
        precision: -20, // ~1 µs: localNow() has µs resolution
        rootDelay: 0,
        rootDispersion: 0,
        refId: refIdFromString(kiss ? (o.kissCode as string) : (o.refId ?? 'LOCL')),
        referenceTimestamp: msToNtp(t1 - 1000),
        originTimestamp: req.transmitTimestamp,
        receiveTimestamp: msToNtp(t1),
        transmitTimestamp: msToNtp(t2),
      })
    }
    const send = (reply: Uint8Array) => {
      this.#answered++
      this.#socket?.send(reply, rinfo.port, rinfo.address)
    }
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        this.#timers.delete(t)
        fn()
      }, ms)
      this.#timers.add(t)
    }

    const processing = o.processingDelayMs ?? 0
    const wire = o.wireDelayMs ?? 0
    const stampAndSend = () => {
      const reply = build()
      if (wire > 0) later(wire, () => send(reply))
      else send(reply)
    }
    if (processing > 0) later(processing, stampAndSend)
    else stampAndSend()
  }
}
