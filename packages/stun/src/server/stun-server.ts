import type { Socket as UdpSocket } from 'node:dgram'
import { createServer, type Socket, type Server as TcpServer } from 'node:net'
import { type Endpoint, throwIfAborted } from '@p2pd/interface'
import { decodeMessage, type StunAttribute } from '../codec/message.js'
import { StunClass, StunMethod } from '../constants.js'
import { StunError } from '../errors.js'
import { StunFramer } from '../framing.js'
import { ipFamily } from '../ip.js'
import {
  decodeTcpCallback,
  encodeTcpCallbackResult,
  TCP_CALLBACK,
  TCP_CALLBACK_RESULT,
  type TcpCallbackRequest,
  type TcpCallbackResult,
} from '../tcp-callback/attributes.js'
import { TcpCallbackDialer, type TcpCallbackLimits } from '../tcp-callback/dialer.js'
import { bindUdp, closeTcp, closeUdp, isAddressInUse, listenTcp, socketError } from './bind.js'
import { RateLimiter, type RateLimitOptions } from './rate-limit.js'
import { type Reply, respond, type Slot } from './respond.js'

export interface StunServerOptions {
  /** Primary IP (default `127.0.0.1`). */
  readonly primaryHost?: string
  /** Alternate IP (default `127.0.0.2`; any 127/8 address works on Linux without root). */
  readonly alternateHost?: string
  /** Primary port on both IPs (default 0: a free one). */
  readonly primaryPort?: number
  /** Alternate port on both IPs (default 0: primary + 1 if free, else any free one). */
  readonly alternatePort?: number
  /** Serve UDP (default true). */
  readonly udp?: boolean
  /** Serve TCP (default true). */
  readonly tcp?: boolean
  /** SOFTWARE attribute of responses (default `'p2pd-stun'`; `''` for none). */
  readonly software?: string
  /** Per-source-IP limit, UDP and TCP together (default 500/s, burst 1,000); false: none. */
  readonly rateLimit?: RateLimitOptions | false
  /** Most simultaneous TCP connections (default 256); more are refused. */
  readonly maxTcpConnections?: number
  /** Idle TCP connections are closed after this (default 30,000 ms). */
  readonly tcpIdleTimeoutMs?: number
  /** Honour RESPONSE-PORT (default true; the response still goes to the request's source IP). */
  readonly allowResponsePort?: boolean
  /**
   * Answer TCP-CALLBACK requests over TCP by dialling the client back, so it can measure its
   * TCP filtering and SYN policy (default true, with the default limits); false: ignore them.
   */
  readonly tcpCallback?: boolean | TcpCallbackLimits
}

/** Counters, for tests and monitoring. */
export interface StunServerStats {
  requests: number
  responses: number
  dropped: number
  rateLimited: number
  tcpConnections: number
  /** TCP-CALLBACK dials made (including ones answered `limited`). */
  tcpCallbacks: number
}

const SLOTS: readonly Slot[] = [
  { ip: 0, port: 0 },
  { ip: 0, port: 1 },
  { ip: 1, port: 0 },
  { ip: 1, port: 1 },
]
const slotIndex = (s: Slot) => s.ip * 2 + s.port

/**
 * The RFC 5780 behaviour-discovery server: UDP and TCP on a primary and an alternate IP, each
 * with the same two ports (4 endpoints per transport), answering Binding requests and honouring
 * CHANGE-REQUEST over UDP (see {@link respond} for the exact answers). Inputs are bounded: UDP
 * datagrams are decoded once, TCP frames are at most 4 KiB, connections are capped and idle
 * ones closed, and each source IP is rate limited.
 */
export class StunServer {
  readonly #opts: StunServerOptions
  readonly #hosts: readonly [string, string]
  #ports: [number, number] = [0, 0]
  #udp: UdpSocket[] = []
  #tcp: TcpServer[] = []
  readonly #connections = new Set<Socket>()
  readonly #limiter: RateLimiter | undefined
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new'
  readonly stats: StunServerStats = {
    requests: 0,
    responses: 0,
    dropped: 0,
    rateLimited: 0,
    tcpConnections: 0,
    tcpCallbacks: 0,
  }
  readonly #dialer: TcpCallbackDialer | undefined

  constructor(opts: StunServerOptions = {}) {
    this.#opts = opts
    this.#hosts = [opts.primaryHost ?? '127.0.0.1', opts.alternateHost ?? '127.0.0.2']
    const cb = opts.tcpCallback ?? true
    this.#dialer = cb === false ? undefined : new TcpCallbackDialer(cb === true ? {} : cb)
    for (const h of this.#hosts) {
      if (ipFamily(h) === 0) throw new StunError('STUN_BAD_INPUT', `not an IP address: ${h}`)
    }
    if (ipFamily(this.#hosts[0]) !== ipFamily(this.#hosts[1])) {
      throw new StunError('STUN_BAD_INPUT', 'primary and alternate IPs must be of one family')
    }
    this.#limiter =
      opts.rateLimit === false
        ? undefined
        : new RateLimiter(opts.rateLimit ?? { perSecond: 500, burst: 1000 })
  }

  /** Binds every endpoint. With port 0, retries with other ports when one is taken. */
  async start(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== 'new') throw new StunError('STUN_CLOSED', `server already ${this.#state}`)
    this.#state = 'starting'
    const fixed = (this.#opts.primaryPort ?? 0) !== 0 && (this.#opts.alternatePort ?? 0) !== 0
    let lastError: unknown
    for (let attempt = 0; attempt < (fixed ? 1 : 30); attempt++) {
      throwIfAborted(opts.signal)
      try {
        await this.#bindAll(attempt)
        this.#state = 'running'
        return
      } catch (err) {
        lastError = err
        await this.#release()
        if (!isAddressInUse(err)) break
      }
    }
    this.#state = 'closed'
    throw socketError('cannot bind the STUN server', lastError)
  }

  /** The server's address for an IP/port slot: `{ ip: 0, port: 0 }` is the primary one. */
  addressOf(slot: Slot): Endpoint {
    return { host: this.#hosts[slot.ip], port: this.#ports[slot.port] }
  }

  /** Primary endpoint (where clients send their first request). */
  get primary(): Endpoint {
    return this.addressOf({ ip: 0, port: 0 })
  }

  /** Alternate IP + alternate port: what OTHER-ADDRESS says for a request to `primary`. */
  get other(): Endpoint {
    return this.addressOf({ ip: 1, port: 1 })
  }

  get ports(): readonly [number, number] {
    return this.#ports
  }

  get hosts(): readonly [string, string] {
    return this.#hosts
  }

  /** Stops listening, closes every TCP connection and resolves once all sockets are released. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    await this.#release()
  }

  async #bindAll(attempt: number): Promise<void> {
    const h0 = this.#hosts[0]
    const wantUdp = this.#opts.udp ?? true
    const wantTcp = this.#opts.tcp ?? true
    let p0 = this.#opts.primaryPort ?? 0
    if (p0 === 0) {
      // Let the kernel pick the primary port on the primary IP, then claim it everywhere.
      if (wantUdp) {
        const s = await bindUdp(h0, 0)
        this.#udp[0] = s
        p0 = s.address().port
      } else {
        const t = await listenTcp(h0, 0, this.#tcpServer({ ip: 0, port: 0 }))
        this.#tcp[0] = t
        p0 = (t.address() as { port: number }).port
      }
    }
    let p1 = this.#opts.alternatePort ?? 0
    if (p1 === 0) p1 = attempt % 2 === 0 && p0 < 0xffff ? p0 + 1 : await this.#freeUdpPort(h0)
    this.#ports = [p0, p1]
    for (const slot of SLOTS) {
      const i = slotIndex(slot)
      const { host, port } = this.addressOf(slot)
      if (wantUdp && !this.#udp[i]) this.#udp[i] = await bindUdp(host, port)
      if (wantTcp && !this.#tcp[i])
        this.#tcp[i] = await listenTcp(host, port, this.#tcpServer(slot))
    }
    this.#udp.forEach((s, i) => {
      this.#serveUdp(s, SLOTS[i] as Slot)
    })
  }

  async #freeUdpPort(host: string): Promise<number> {
    const s = await bindUdp(host, 0)
    const port = s.address().port
    await closeUdp(s)
    return port
  }

  #serveUdp(socket: UdpSocket, slot: Slot): void {
    socket.on('error', () => {}) // a failed send must not take the server down
    socket.on('message', (data, rinfo) => {
      this.stats.requests++
      if (this.#limiter && !this.#limiter.allow(rinfo.address)) {
        this.stats.rateLimited++
        return
      }
      const reply = this.#answer(data, 'udp', slot, { host: rinfo.address, port: rinfo.port })
      if (!reply) return
      const out = this.#udp[slotIndex(reply.via)]
      if (!out) return
      try {
        out.send(reply.bytes, reply.to.port, reply.to.host)
        this.stats.responses++
      } catch {
        this.stats.dropped++ // socket closing during close()
      }
    })
  }

  #tcpServer(slot: Slot): TcpServer {
    const server = createServer({ noDelay: true }, (conn) => {
      if (
        this.#connections.size >= (this.#opts.maxTcpConnections ?? 256) ||
        this.#state === 'closed'
      ) {
        conn.destroy()
        return
      }
      this.#connections.add(conn)
      this.stats.tcpConnections++
      const remote = { host: conn.remoteAddress ?? '', port: conn.remotePort ?? 0 }
      const framer = new StunFramer({ maxFrameBytes: 4096 })
      conn.setTimeout(this.#opts.tcpIdleTimeoutMs ?? 30_000, () => conn.destroy())
      conn.on('error', () => {})
      conn.once('close', () => this.#connections.delete(conn))
      conn.on('data', (chunk: Buffer) => {
        let frames: ReturnType<StunFramer['push']>
        try {
          frames = framer.push(chunk)
        } catch {
          this.stats.dropped++
          conn.destroy()
          return
        }
        for (const frame of frames) {
          this.stats.requests++
          if (this.#limiter && !this.#limiter.allow(remote.host)) {
            this.stats.rateLimited++
            continue
          }
          const callback = this.#dialer && callbackRequestOf(frame.data)
          if (callback) {
            void this.#dialBack(callback, slot, remote).then((result) => {
              const reply = this.#answer(frame.data, 'tcp', slot, remote, [
                { type: TCP_CALLBACK_RESULT, value: encodeTcpCallbackResult(result) },
              ])
              if (reply && !conn.destroyed) {
                conn.write(reply.bytes)
                this.stats.responses++
              }
            })
            continue
          }
          const reply = this.#answer(frame.data, 'tcp', slot, remote)
          if (reply) {
            conn.write(reply.bytes)
            this.stats.responses++
          }
        }
      })
    })
    return server
  }

  /** Dials the client back from the other IP or port of `slot`, as TCP-CALLBACK asked. */
  #dialBack(req: TcpCallbackRequest, slot: Slot, remote: Endpoint): Promise<TcpCallbackResult> {
    this.stats.tcpCallbacks++
    const ip = (req.changeIp ? 1 - slot.ip : slot.ip) as 0 | 1
    const from = this.#hosts[ip]
    if (req.changeIp && this.#hosts[0] === this.#hosts[1]) {
      return Promise.resolve({ outcome: 'unavailable', elapsedMs: 0 })
    }
    const to = req.port === undefined ? remote : { host: remote.host, port: req.port }
    return (this.#dialer as TcpCallbackDialer).dial(to, from, req)
  }

  #answer(
    data: Buffer,
    transport: 'udp' | 'tcp',
    slot: Slot,
    remote: Endpoint,
    extraAttributes?: StunAttribute[],
  ): Reply | undefined {
    const reply = respond(data, {
      ...(extraAttributes ? { extraAttributes } : {}),
      transport,
      slot,
      remote,
      addressOf: (s) => this.addressOf(s),
      software: this.#opts.software ?? 'p2pd-stun',
      allowResponsePort: this.#opts.allowResponsePort ?? true,
    })
    if (!reply) this.stats.dropped++
    return reply
  }

  async #release(): Promise<void> {
    this.#dialer?.close()
    for (const c of this.#connections) c.destroy()
    this.#connections.clear()
    const udp = this.#udp
    const tcp = this.#tcp
    this.#udp = []
    this.#tcp = []
    await Promise.all([...udp.filter(Boolean).map(closeUdp), ...tcp.filter(Boolean).map(closeTcp)])
  }
}

/** The TCP-CALLBACK of a Binding request, or undefined (anything else, or malformed). */
function callbackRequestOf(data: Buffer): TcpCallbackRequest | undefined {
  try {
    const msg = decodeMessage(data, { maxAttributes: 32 })
    if (msg.cls !== StunClass.Request || msg.method !== StunMethod.Binding) return undefined
    const a = msg.attributes.find((x) => x.type === TCP_CALLBACK)
    return a ? decodeTcpCallback(a.value) : undefined
  } catch (err) {
    if (err instanceof StunError) return undefined
    throw err
  }
}
