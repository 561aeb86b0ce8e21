import type { Socket } from 'node:dgram'
import { type Endpoint, throwIfAborted } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  type DecodedStunMessage,
  decodeMessage,
  decodeUint32,
  type EncodeOptions,
  encodeMessage,
  findAttribute,
  isComprehensionRequired,
  type StunAttribute,
  StunClass,
  StunError,
  StunMethod,
} from '@p2pd/stun'
import { TurnError } from '../errors.js'
import { type RelayHosts, relayHostsOf, sourceKey } from './address-family.js'
import { type Authenticated, CredentialChecker, signed } from './credentials.js'
import type { TurnServerOptions, TurnServerStats } from './options.js'
import { compilePeerPolicy } from './peer-policy.js'
import { StrangerGuard } from './stranger-guard.js'
import { TcpRelay } from './tcp-relay.js'
import { bindUdp } from './udp-bind.js'
import { UdpRelay } from './udp-relay.js'

export type { TurnServerOptions, TurnServerStats } from './options.js'

const KNOWN_ATTRIBUTES = new Set<number>([
  AttrType.Username,
  AttrType.MessageIntegrity,
  AttrType.MessageIntegritySha256,
  AttrType.ErrorCode,
  AttrType.Realm,
  AttrType.Nonce,
  AttrType.ChannelNumber,
  AttrType.Lifetime,
  AttrType.XorPeerAddress,
  AttrType.Data,
  AttrType.RequestedTransport,
  AttrType.RequestedAddressFamily,
  AttrType.DontFragment,
  AttrType.EvenPort,
  AttrType.ReservationToken,
  AttrType.PasswordAlgorithm,
  AttrType.Fingerprint,
])

/**
 * A small TURN server (RFC 8656 over UDP; TCP allocations, RFC 6062, over TCP): long-term
 * credentials with expiring stateless nonces (438), allocations with lifetime/refresh/
 * deallocation, permissions, channels, Send / Data indications and ChannelData, quotas per
 * user and in total, and a peer policy that refuses loopback and private peers unless allowed.
 *
 * IPv4 and IPv6: it listens on one IP of either family (`host: '::1'`), and relays in each
 * family it has a relay IP for (`relayHosts: ['203.0.113.7', '2001:db8::7']`). A client asks
 * for IPv6 with REQUESTED-ADDRESS-FAMILY (IPv4 otherwise); a family without a relay IP is
 * refused with 440, and a relay reaches only peers of its own family (443 for the others).
 * Stranger budgets of IPv6 sources are kept per /64, the block one host usually holds.
 *
 * Meant for tests, demos and small deployments — **not a coturn replacement** (one listen IP
 * per server, no UDP allocations over TCP, no dual allocations, no TLS/DTLS listeners, no
 * bandwidth shaping, no database, no ALTERNATE-SERVER).
 */
export class TurnServer {
  readonly #opts: TurnServerOptions
  readonly #credentials: CredentialChecker
  #socket: Socket | undefined
  readonly #perUser = new Map<string, number>()
  readonly #guard: StrangerGuard
  readonly #peerAllowed: (host: string) => boolean
  readonly #relays: RelayHosts
  #sweeper: NodeJS.Timeout | undefined
  #address: Endpoint | undefined
  readonly stats: TurnServerStats = {
    allocations: 0,
    requests: 0,
    relayedToPeers: 0,
    relayedToClients: 0,
    refusedPeers: 0,
    dropped: 0,
    droppedUnauthenticated: 0,
    authFailures: 0,
    throttledFailedAuth: 0,
    amplificationLimited: 0,
    tcpConnections: 0,
    tcpRefusedConnections: 0,
    tcpIdleClosed: 0,
    tcpAllocations: 0,
    tcpRefusedPeers: 0,
    tcpUnboundTimeouts: 0,
    tcpSpliced: 0,
    tcpFused: 0,
  }
  readonly #tcp: TcpRelay | undefined
  readonly #udp: UdpRelay

  constructor(opts: TurnServerOptions) {
    this.#opts = opts
    this.#guard = new StrangerGuard(opts.limits)
    const users = opts.users
    this.#credentials = new CredentialChecker(
      opts.realm ?? 'p2pd',
      (name) => (typeof users === 'function' ? users(name) : users[name]),
      opts.offerSha256 ?? false,
      opts.nonceTtlMs ?? 600_000,
      this.#guard,
      this.stats,
    )
    this.#peerAllowed = compilePeerPolicy(opts)
    this.#relays = relayHostsOf(opts)
    const quota = {
      take: (username: string) => this.#takeSlot(username),
      release: (username: string) => this.#decUser(username),
    }
    this.#udp = new UdpRelay({
      opts,
      relayHosts: this.#relays,
      stats: this.stats,
      peerAllowed: this.#peerAllowed,
      quota,
      lifetime: (req) => this.#lifetime(req),
      send: (bytes, to) => this.#send(bytes, to),
      reply: (req, to, auth, attributes, error) => this.#reply(req, to, auth, attributes, error),
      listening: () => this.#socket !== undefined,
    })
    const host = opts.host ?? '127.0.0.1'
    this.#tcp =
      opts.tcp?.listen === false
        ? undefined
        : new TcpRelay(
            {
              host,
              relayHosts: this.#relays,
              relayPortRange: opts.relayPortRange,
              credentials: this.#credentials,
              guard: this.#guard,
              peerAllowed: this.#peerAllowed,
              quota,
              lifetime: (req) => this.#lifetime(req),
              defaultLifetimeSec: opts.defaultLifetimeSec ?? 600,
              permissionLifetimeMs: opts.permissionLifetimeMs ?? 300_000,
              software: opts.software,
              stats: this.stats,
            },
            opts.tcp,
          )
  }

  /** Takes an allocation slot for `username`, or says which error refuses it. */
  #takeSlot(username: string): 0 | 486 | 508 {
    if (this.allocationCount >= (this.#opts.maxAllocations ?? 1000)) return 508
    if ((this.#perUser.get(username) ?? 0) >= (this.#opts.maxAllocationsPerUser ?? 10)) return 486
    this.#perUser.set(username, (this.#perUser.get(username) ?? 0) + 1)
    return 0
  }

  /** Where clients reach the server (after `start()`). */
  get address(): Endpoint {
    if (!this.#address) throw new TurnError('TURN_CLOSED', 'server not started')
    return this.#address
  }

  get realm(): string {
    return this.#credentials.realm
  }

  /** Number of live allocations, UDP and TCP. */
  get allocationCount(): number {
    return this.#udp.allocationCount + (this.#tcp?.allocationCount ?? 0)
  }

  /** TCP peer connections waiting for their ConnectionBind. */
  get pendingTcpConnections(): number {
    return this.#tcp?.pendingCount ?? 0
  }

  /** Source IPs whose budgets are tracked now (bounded by `limits.maxTrackedSources`). */
  get trackedSources(): number {
    return this.#guard.trackedSources
  }

  /** Binds the listening socket. Throws `TURN_SOCKET` when the port is taken. */
  async start(options: { signal?: AbortSignal } = {}): Promise<Endpoint> {
    throwIfAborted(options.signal)
    const host = this.#opts.host ?? '127.0.0.1'
    const socket = await this.#bindBoth(host, this.#opts.port ?? 0)
    this.#socket = socket
    socket.on('message', (msg, rinfo) =>
      this.#onClientDatagram(msg, { host: rinfo.address, port: rinfo.port }),
    )
    socket.on('error', () => {})
    this.#sweeper = setInterval(() => this.#sweep(), 1000)
    this.#sweeper.unref()
    this.#address = { host, port: socket.address().port }
    return this.#address
  }

  /** UDP and (unless disabled) TCP on one port; with port 0, retries when TCP's is taken. */
  async #bindBoth(host: string, port: number): Promise<Socket> {
    for (let attempt = 1; ; attempt++) {
      const socket = await bindUdp(host, port)
      if (!this.#tcp) return socket
      try {
        await this.#tcp.listen(socket.address().port)
        return socket
      } catch (err) {
        socket.close()
        if (port !== 0 || attempt >= 5) throw err
      }
    }
  }

  /** Closes every relay socket and the listeners. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    await this.#tcp?.close()
    this.#udp.close()
    const s = this.#socket
    this.#socket = undefined
    this.#guard.clear()
    if (s) await new Promise<void>((r) => s.close(() => r()))
  }

  #send(bytes: Buffer, to: Endpoint): void {
    this.#socket?.send(bytes, to.port, to.host, () => {})
  }

  #onClientDatagram(msg: Buffer, from: Endpoint): void {
    if (msg.length >= 4 && ((msg[0] as number) & 0xc0) === 0x40) {
      this.#udp.onChannelData(msg, from)
      return
    }
    let req: DecodedStunMessage
    try {
      req = decodeMessage(msg)
    } catch (err) {
      if (!(err instanceof StunError)) throw err
      this.stats.dropped++
      return
    }
    if (req.cls === StunClass.Indication) {
      if (req.method === StunMethod.Send) this.#udp.onSend(req, from)
      return
    }
    if (req.cls !== StunClass.Request) return
    this.stats.requests++
    const source = sourceKey(from.host)
    this.#guard.received(source, msg.length)
    // Unsigned requests are the cheap ones to spoof: they spend the source's budget up front.
    if (!signed(req) || req.method === StunMethod.Binding) {
      if (!this.#guard.takeUnauthenticated(source)) {
        this.stats.droppedUnauthenticated++
        return
      }
    }
    try {
      this.#onRequest(req, from)
    } catch (err) {
      if (!(err instanceof StunError)) throw err
      this.#reply(req, from, undefined, [attr.errorCode(400, 'Bad Request')], true)
    }
  }

  #onRequest(req: DecodedStunMessage, from: Endpoint): void {
    if (req.method === StunMethod.Binding) {
      this.#reply(req, from, undefined, [attr.xorMappedAddress(from, req.transactionId)])
      return
    }
    const unknown = req.attributes
      .map((a) => a.type)
      .filter((t) => isComprehensionRequired(t) && !KNOWN_ATTRIBUTES.has(t))
    if (unknown.length > 0) {
      this.#reply(
        req,
        from,
        undefined,
        [attr.errorCode(420, 'Unknown Attribute'), attr.unknownAttributes(unknown)],
        true,
      )
      return
    }
    const auth = this.#authenticate(req, from)
    if (!auth) return
    switch (req.method) {
      case StunMethod.Allocate:
      case StunMethod.Refresh:
      case StunMethod.CreatePermission:
      case StunMethod.ChannelBind:
        return void this.#udp.onRequest(req, from, auth)
      default:
        this.#reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
  }

  /** The credential check; answers challenges itself, undefined unless authenticated. */
  #authenticate(req: DecodedStunMessage, from: Endpoint): Authenticated | undefined {
    const result = this.#credentials.check(req, sourceKey(from.host))
    if (result.kind === 'challenge') this.#reply(req, from, undefined, result.attributes, true)
    return result.kind === 'ok' ? result.auth : undefined
  }

  #reply(
    req: DecodedStunMessage,
    to: Endpoint,
    auth: { encode: EncodeOptions } | undefined,
    attributes: StunAttribute[],
    error = false,
  ): Buffer {
    if (auth && this.#opts.software) attributes.push(attr.software(this.#opts.software))
    const res = createMessage({
      method: req.method,
      cls: error ? StunClass.ErrorResponse : StunClass.SuccessResponse,
      transactionId: req.transactionId,
      attributes,
    })
    // To a stranger: as small as it can be (no SOFTWARE, no FINGERPRINT), and only within
    // the bytes that source sent, so the server is no reflection amplifier.
    const bytes = encodeMessage(res, auth?.encode ?? {})
    if (!auth && !this.#mayAnswerStranger(req, to.host, bytes.length)) return bytes
    this.#send(bytes, to)
    return bytes
  }

  #mayAnswerStranger(req: DecodedStunMessage, ip: string, bytes: number): boolean {
    const source = sourceKey(ip)
    // Unsigned requests spent their token on arrival; signed ones that failed spend it now.
    if (signed(req) && req.method !== StunMethod.Binding) {
      if (!this.#guard.takeUnauthenticated(source)) {
        this.stats.droppedUnauthenticated++
        return false
      }
    }
    if (this.#udp.holdsAllocation(ip)) return true
    if (this.#guard.mayReply(source, bytes)) return true
    this.stats.amplificationLimited++
    return false
  }

  #lifetime(req: DecodedStunMessage): number {
    const lt = findAttribute(req, AttrType.Lifetime)
    const asked = lt && lt.value.length === 4 ? decodeUint32(lt.value) : undefined
    const def = this.#opts.defaultLifetimeSec ?? 600
    if (asked === 0) return 0
    return Math.min(this.#opts.maxLifetimeSec ?? 3600, asked ?? def)
  }

  #sweep(): void {
    this.#guard.sweep()
    const now = Date.now()
    this.#tcp?.sweep(now)
    this.#udp.sweep(now)
  }

  #decUser(username: string): void {
    const n = (this.#perUser.get(username) ?? 1) - 1
    if (n <= 0) this.#perUser.delete(username)
    else this.#perUser.set(username, n)
  }
}
