import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Socket, type Server as TcpServer } from 'node:net'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  RateLimiter,
  respond,
  StunClass,
  StunFramer,
} from '@p2pd/stun'

/** Attributes that would claim a second address this server does not have. */
const RFC5780_ONLY = new Set<number>([AttrType.OtherAddress, AttrType.ChangedAddress])
/** Attributes naming the server's own address: meaningless when it listens on a wildcard. */
const ORIGIN = new Set<number>([AttrType.ResponseOrigin, AttrType.SourceAddress])

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::'

/**
 * A plain STUN Binding server on one IP and port, UDP and TCP: what `p2pd infra` runs when
 * there is no second IP for RFC 5780. It answers exactly as {@link respond} does, minus
 * OTHER-ADDRESS (so clients know behaviour discovery is not offered here) and with 420 to a
 * CHANGE-REQUEST that asks for a change it cannot make. Bounded like the RFC 5780 server:
 * 4 KiB TCP frames, capped and idle-closed TCP connections, a per-source-IP rate limit.
 */
export class PlainStunServer {
  readonly #host: string
  readonly #port: number
  readonly #limiter = new RateLimiter({ perSecond: 500, burst: 1000 })
  readonly #connections = new Set<Socket>()
  #udp: UdpSocket | undefined
  #tcp: TcpServer | undefined
  #bound = 0

  constructor(opts: { host: string; port: number }) {
    this.#host = opts.host
    this.#port = opts.port
  }

  /** Where it listens (the port is the bound one once started). */
  get primary(): Endpoint {
    return { host: this.#host, port: this.#bound }
  }

  /**
   * Binds UDP, then TCP on the same port; rejects with the raw socket error. With port 0 the
   * UDP port is the kernel's pick, and its TCP twin may already be taken (an outgoing
   * connection's ephemeral port, say): then it tries another pair, up to 20 times.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#bindPair()
        return
      } catch (err) {
        if (this.#port !== 0 || attempt >= 20 || (err as { code?: string }).code !== 'EADDRINUSE')
          throw err
      }
    }
  }

  async #bindPair(): Promise<void> {
    const udp = createSocket({ type: this.#host.includes(':') ? 'udp6' : 'udp4' })
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind({ address: this.#host, port: this.#port, exclusive: true }, () => {
        udp.off('error', reject)
        resolve()
      })
    }).catch((err) => {
      udp.close()
      throw err
    })
    const port = udp.address().port
    const tcp = createServer({ noDelay: true }, (conn) => this.#serveTcp(conn))
    tcp.maxConnections = 256
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen({ host: this.#host, port, exclusive: true }, () => {
        tcp.off('error', reject)
        resolve()
      })
    }).catch((err) => {
      udp.close()
      throw err
    })
    this.#udp = udp
    this.#tcp = tcp
    this.#bound = port
    udp.on('error', () => {})
    udp.on('message', (data, rinfo) => {
      if (!this.#limiter.allow(rinfo.address)) return
      const bytes = this.#answer(data, 'udp', { host: rinfo.address, port: rinfo.port })
      if (bytes) udp.send(bytes, rinfo.port, rinfo.address)
    })
  }

  async close(): Promise<void> {
    for (const c of this.#connections) c.destroy()
    this.#connections.clear()
    const udp = this.#udp
    const tcp = this.#tcp
    this.#udp = undefined
    this.#tcp = undefined
    await Promise.all([
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
    ])
  }

  #serveTcp(conn: Socket): void {
    this.#connections.add(conn)
    const remote = { host: conn.remoteAddress ?? '', port: conn.remotePort ?? 0 }
    const framer = new StunFramer({ maxFrameBytes: 4096 })
    conn.setTimeout(30_000, () => conn.destroy())
    conn.on('error', () => {})
    conn.once('close', () => this.#connections.delete(conn))
    conn.on('data', (chunk: Buffer) => {
      let frames: ReturnType<StunFramer['push']>
      try {
        frames = framer.push(chunk)
      } catch {
        conn.destroy()
        return
      }
      for (const frame of frames) {
        if (!this.#limiter.allow(remote.host)) continue
        const bytes = this.#answer(frame.data, 'tcp', remote)
        if (bytes) conn.write(bytes)
      }
    })
  }

  #answer(data: Buffer, transport: 'udp' | 'tcp', remote: Endpoint): Buffer | undefined {
    const self = { host: isWildcard(this.#host) ? '0.0.0.0' : this.#host, port: this.#bound }
    const reply = respond(data, {
      transport,
      slot: { ip: 0, port: 0 },
      remote,
      addressOf: () => self,
      software: 'p2pd-stun',
      allowResponsePort: false,
    })
    if (!reply) return undefined
    const msg = decodeMessage(reply.bytes, { allowLegacy: true })
    const changed = reply.via.ip !== 0 || reply.via.port !== 0
    const attributes = changed
      ? [
          attr.errorCode(420, 'Unknown Attribute: no second address here'),
          attr.unknownAttributes([AttrType.ChangeRequest]),
        ]
      : msg.attributes.filter(
          (a) =>
            a.type !== AttrType.Fingerprint &&
            !RFC5780_ONLY.has(a.type) &&
            !(isWildcard(this.#host) && ORIGIN.has(a.type)),
        )
    return encodeMessage(
      createMessage({
        method: msg.method,
        cls: changed ? StunClass.ErrorResponse : msg.cls,
        transactionId: msg.transactionId,
        attributes,
        ...(msg.cookie === undefined ? {} : { cookie: msg.cookie }),
      }),
      { fingerprint: !msg.legacy },
    )
  }
}
