import type { Socket } from 'node:dgram'
import { type Endpoint, throwIfAborted } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  type DecodedStunMessage,
  decodeMessage,
  decodeUint32,
  decodeXorAddress,
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
import { peerDataIndication } from '../peer-data.js'
import {
  allocationFamily,
  type RelayHosts,
  relayHostsOf,
  sameFamily,
  sourceKey,
} from './address-family.js'
import { type Authenticated, CredentialChecker, signed } from './credentials.js'
import type { TurnServerOptions, TurnServerStats } from './options.js'
import { compilePeerPolicy } from './peer-policy.js'
import { StrangerGuard } from './stranger-guard.js'
import { TcpRelay } from './tcp-relay.js'
import { bindUdp } from './udp-bind.js'

interface Allocation {
  readonly key: string
  readonly client: Endpoint
  readonly username: string
  readonly relay: Socket
  readonly relayed: Endpoint
  /** The relayed family: peers of the other family are refused (443) or dropped. */
  readonly family: 4 | 6
  expiresAt: number
  /** peer IP → expiry */
  readonly permissions: Map<string, number>
  readonly channels: Map<number, { peer: Endpoint; expiresAt: number }>
  readonly channelByPeer: Map<string, number>
  /** The Allocate transaction that created it, to answer its retransmissions. */
  readonly allocateTid: string
  allocateResponse: Buffer
}

export type { TurnServerOptions, TurnServerStats } from './options.js'

const UDP = 17
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

const endpointKey = (e: Endpoint) => `${e.host}|${e.port}`

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
  readonly #allocations = new Map<string, Allocation>()
  readonly #perUser = new Map<string, number>()
  /** Live allocations per client IP: such a source has authenticated, its replies are free. */
  readonly #perIp = new Map<string, number>()
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
              quota: {
                take: (username) => this.#takeSlot(username),
                release: (username) => this.#decUser(username),
              },
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
    return this.#allocations.size + (this.#tcp?.allocationCount ?? 0)
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
    for (const a of [...this.#allocations.values()]) this.#remove(a)
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
      this.#onChannelData(msg, from)
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
      if (req.method === StunMethod.Send) this.#onSend(req, from)
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
    const key = endpointKey(from)
    const existing = this.#allocations.get(key)
    switch (req.method) {
      case StunMethod.Allocate:
        this.#allocate(req, from, auth, existing)
        return
      case StunMethod.Refresh:
      case StunMethod.CreatePermission:
      case StunMethod.ChannelBind: {
        if (!existing) {
          this.#reply(req, from, auth, [attr.errorCode(437, 'Allocation Mismatch')], true)
          return
        }
        if (existing.username !== auth.username) {
          this.#reply(req, from, auth, [attr.errorCode(441, 'Wrong Credentials')], true)
          return
        }
        if (req.method === StunMethod.Refresh) this.#refresh(req, from, auth, existing)
        else if (req.method === StunMethod.CreatePermission) {
          this.#createPermission(req, from, auth, existing)
        } else this.#channelBind(req, from, auth, existing)
        return
      }
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
    if ((this.#perIp.get(ip) ?? 0) > 0) return true
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

  #allocate(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: Authenticated,
    existing: Allocation | undefined,
  ): void {
    const tid = req.transactionId.toString('hex')
    if (existing) {
      if (existing.allocateTid === tid) {
        // A retransmission: repeat the answer (none yet while the relay is being bound).
        if (existing.allocateResponse) this.#send(existing.allocateResponse, from)
      } else this.#reply(req, from, auth, [attr.errorCode(437, 'Allocation Mismatch')], true)
      return
    }
    const rt = findAttribute(req, AttrType.RequestedTransport)
    if (rt?.value.length !== 4) {
      return void this.#reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    if (rt.value[0] !== UDP) {
      return void this.#reply(
        req,
        from,
        auth,
        [attr.errorCode(442, 'Unsupported Transport Protocol')],
        true,
      )
    }
    const wanted = allocationFamily(req, this.#relays)
    if ('error' in wanted) {
      const reason = wanted.error === 440 ? 'Address Family not Supported' : 'Bad Request'
      return void this.#reply(req, from, auth, [attr.errorCode(wanted.error, reason)], true)
    }
    const refused = this.#takeSlot(auth.username)
    if (refused !== 0) {
      const reason = refused === 486 ? 'Allocation Quota Reached' : 'Insufficient Capacity'
      return void this.#reply(req, from, auth, [attr.errorCode(refused, reason)], true)
    }
    const key = endpointKey(from)
    // Reserve the slot before the asynchronous bind, so a retransmission does not double it.
    const placeholder = { allocateTid: tid } as Allocation
    this.#allocations.set(key, placeholder)
    void this.#bindRelay(wanted.host).then(
      (relay) => {
        if (this.#allocations.get(key) !== placeholder || !this.#socket) {
          relay.close()
          return
        }
        const lifetime = Math.max(1, this.#lifetime(req) || (this.#opts.defaultLifetimeSec ?? 600))
        const relayed = { host: wanted.host, port: relay.address().port }
        const alloc: Allocation = {
          key,
          client: from,
          username: auth.username,
          relay,
          relayed,
          family: wanted.family,
          expiresAt: Date.now() + lifetime * 1000,
          permissions: new Map(),
          channels: new Map(),
          channelByPeer: new Map(),
          allocateTid: tid,
          allocateResponse: Buffer.alloc(0),
        }
        relay.on('message', (msg, rinfo) =>
          this.#onPeerDatagram(alloc, msg, { host: rinfo.address, port: rinfo.port }),
        )
        relay.on('error', () => {})
        this.#allocations.set(key, alloc)
        this.#perIp.set(from.host, (this.#perIp.get(from.host) ?? 0) + 1)
        this.stats.allocations++
        alloc.allocateResponse = this.#reply(req, from, auth, [
          attr.xorAddress(AttrType.XorRelayedAddress, relayed, req.transactionId),
          attr.uint32(AttrType.Lifetime, lifetime),
          attr.xorMappedAddress(from, req.transactionId),
        ])
      },
      () => {
        if (this.#allocations.get(key) === placeholder) this.#allocations.delete(key)
        this.#decUser(auth.username)
        this.#reply(req, from, auth, [attr.errorCode(508, 'Insufficient Capacity')], true)
      },
    )
  }

  async #bindRelay(host: string): Promise<Socket> {
    const range = this.#opts.relayPortRange
    if (!range) return bindUdp(host, 0)
    const [min, max] = range
    const span = max - min + 1
    const start = Math.floor(Math.random() * span)
    for (let i = 0; i < span; i++) {
      try {
        return await bindUdp(host, min + ((start + i) % span))
      } catch {
        // taken: try the next port of the range
      }
    }
    throw new TurnError('TURN_CAPACITY', 'relay port range exhausted')
  }

  #refresh(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: { encode: EncodeOptions },
    alloc: Allocation,
  ): void {
    const lifetime = this.#lifetime(req)
    if (lifetime === 0) this.#remove(alloc)
    else alloc.expiresAt = Date.now() + lifetime * 1000
    this.#reply(req, from, auth, [attr.uint32(AttrType.Lifetime, lifetime)])
  }

  #peers(req: DecodedStunMessage): Endpoint[] {
    const out: Endpoint[] = []
    for (const a of req.attributes) {
      if (a.type !== AttrType.XorPeerAddress) continue
      const p = decodeXorAddress(a.value, req.transactionId)
      out.push({ host: p.host, port: p.port })
    }
    return out
  }

  #createPermission(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: { encode: EncodeOptions },
    alloc: Allocation,
  ): void {
    const peers = this.#peers(req)
    if (peers.length === 0) {
      return void this.#reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    if (!peers.every((p) => this.#peerAllowed(p.host))) {
      this.stats.refusedPeers++
      return void this.#reply(req, from, auth, [attr.errorCode(403, 'Forbidden')], true)
    }
    if (!sameFamily(peers, alloc.family)) {
      const mismatch = attr.errorCode(443, 'Peer Address Family Mismatch')
      return void this.#reply(req, from, auth, [mismatch], true)
    }
    const expires = Date.now() + (this.#opts.permissionLifetimeMs ?? 300_000)
    for (const p of peers) alloc.permissions.set(p.host, expires)
    this.#reply(req, from, auth, [])
  }

  #channelBind(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: { encode: EncodeOptions },
    alloc: Allocation,
  ): void {
    const ch = findAttribute(req, AttrType.ChannelNumber)
    const peer = this.#peers(req)[0]
    const number = ch && ch.value.length === 4 ? ch.value.readUInt16BE(0) : 0
    // RFC 8656 narrowed channels to 0x4000–0x4FFF; RFC 5766 clients (turnutils_uclient among
    // them) still pick up to 0x7FFF, so those are accepted too.
    if (!peer || number < 0x4000 || number > 0x7fff) {
      return void this.#reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    const bound = alloc.channels.get(number)
    const byPeer = alloc.channelByPeer.get(endpointKey(peer))
    if (
      (bound && endpointKey(bound.peer) !== endpointKey(peer)) ||
      (byPeer !== undefined && byPeer !== number)
    ) {
      return void this.#reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    if (!this.#peerAllowed(peer.host)) {
      this.stats.refusedPeers++
      return void this.#reply(req, from, auth, [attr.errorCode(403, 'Forbidden')], true)
    }
    if (!sameFamily([peer], alloc.family)) {
      const mismatch = attr.errorCode(443, 'Peer Address Family Mismatch')
      return void this.#reply(req, from, auth, [mismatch], true)
    }
    const now = Date.now()
    alloc.channels.set(number, { peer, expiresAt: now + (this.#opts.channelLifetimeMs ?? 600_000) })
    alloc.channelByPeer.set(endpointKey(peer), number)
    alloc.permissions.set(peer.host, now + (this.#opts.permissionLifetimeMs ?? 300_000))
    this.#reply(req, from, auth, [])
  }

  #permitted(alloc: Allocation, host: string): boolean {
    const until = alloc.permissions.get(host)
    return until !== undefined && until > Date.now()
  }

  #onSend(ind: DecodedStunMessage, from: Endpoint): void {
    const alloc = this.#allocations.get(endpointKey(from))
    if (!alloc?.relay) return
    try {
      const peer = this.#peers(ind)[0]
      const data = findAttribute(ind, AttrType.Data)
      // A permission is of the relayed family; one of the other family never matches.
      if (!peer || !data || !this.#permitted(alloc, peer.host)) {
        this.stats.dropped++
        return
      }
      this.stats.relayedToPeers++
      alloc.relay.send(data.value, peer.port, peer.host, () => {})
    } catch (err) {
      if (!(err instanceof StunError)) throw err
    }
  }

  #onChannelData(msg: Buffer, from: Endpoint): void {
    const alloc = this.#allocations.get(endpointKey(from))
    const channel = alloc?.channels.get(msg.readUInt16BE(0))
    const length = msg.readUInt16BE(2)
    if (!alloc?.relay || !channel || length > msg.length - 4 || channel.expiresAt < Date.now()) {
      this.stats.dropped++
      return
    }
    if (!this.#permitted(alloc, channel.peer.host)) {
      this.stats.dropped++
      return
    }
    this.stats.relayedToPeers++
    alloc.relay.send(msg.subarray(4, 4 + length), channel.peer.port, channel.peer.host, () => {})
  }

  #onPeerDatagram(alloc: Allocation, data: Buffer, peer: Endpoint): void {
    if (!this.#permitted(alloc, peer.host)) {
      this.stats.dropped++
      return
    }
    this.stats.relayedToClients++
    const number = alloc.channelByPeer.get(endpointKey(peer))
    const channel = number === undefined ? undefined : alloc.channels.get(number)
    if (number !== undefined && channel && channel.expiresAt > Date.now()) {
      const frame = Buffer.allocUnsafe(4 + data.length)
      frame.writeUInt16BE(number, 0)
      frame.writeUInt16BE(data.length, 2)
      data.copy(frame, 4)
      this.#send(frame, alloc.client)
      return
    }
    this.#send(peerDataIndication(StunMethod.Data, peer, data), alloc.client)
  }

  #sweep(): void {
    this.#guard.sweep()
    const now = Date.now()
    this.#tcp?.sweep(now)
    for (const a of [...this.#allocations.values()]) {
      if (!a.relay) continue
      if (a.expiresAt <= now) {
        this.#remove(a)
        continue
      }
      for (const [ip, until] of a.permissions) if (until <= now) a.permissions.delete(ip)
      for (const [n, c] of a.channels) {
        if (c.expiresAt <= now) {
          a.channels.delete(n)
          a.channelByPeer.delete(endpointKey(c.peer))
        }
      }
    }
  }

  #remove(a: Allocation): void {
    if (this.#allocations.get(a.key) === a) this.#allocations.delete(a.key)
    if (a.relay) {
      a.relay.close()
      this.#decUser(a.username)
      const n = (this.#perIp.get(a.client.host) ?? 1) - 1
      if (n <= 0) this.#perIp.delete(a.client.host)
      else this.#perIp.set(a.client.host, n)
    }
  }

  #decUser(username: string): void {
    const n = (this.#perUser.get(username) ?? 1) - 1
    if (n <= 0) this.#perUser.delete(username)
    else this.#perUser.set(username, n)
  }
}
