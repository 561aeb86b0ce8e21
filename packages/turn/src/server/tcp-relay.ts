import { randomInt } from 'node:crypto'
import type { Server, Socket } from 'node:net'
import {
  AttrType,
  attr,
  createMessage,
  type DecodedStunMessage,
  decodeConnectionId,
  decodeMessage,
  decodeRequestedTransport,
  encodeMessage,
  findAttribute,
  HEADER_LENGTH,
  isComprehensionRequired,
  newTransactionId,
  type StunAttribute,
  StunClass,
  StunError,
  StunMethod,
  TransportProtocol,
} from '@p2pd/stun'
import { allocationFamily, sameFamily, sourceKey } from './address-family.js'
import { type Authenticated, signed } from './credentials.js'
import { peersOf } from './peer-policy.js'
import { listenOn, listenRelay, type PendingConnection, TcpAllocation } from './tcp-allocation.js'
import { Hairpins } from './tcp-hairpin.js'
import type { TcpRelayContext, TurnTcpOptions } from './tcp-options.js'
import { Pump } from './tcp-pump.js'

/** Largest request accepted on a TCP connection (requests are small; a stranger's blob is not). */
const MAX_REQUEST_BYTES = 4096

export type {
  AllocationQuota,
  TcpRelayContext,
  TcpRelayStats,
  TurnTcpOptions,
} from './tcp-options.js'

const KNOWN_ATTRIBUTES = new Set<number>([
  AttrType.Username,
  AttrType.MessageIntegrity,
  AttrType.MessageIntegritySha256,
  AttrType.Realm,
  AttrType.Nonce,
  AttrType.Lifetime,
  AttrType.XorPeerAddress,
  AttrType.RequestedTransport,
  AttrType.RequestedAddressFamily,
  AttrType.DontFragment,
  AttrType.ConnectionId,
  AttrType.PasswordAlgorithm,
  AttrType.Fingerprint,
])

interface ConnState {
  /** Replaced once when a bound data connection is taken over by a {@link Pump}. */
  socket: Socket
  readonly ip: string
  /** Where its stranger budgets are kept ({@link sourceKey}: the /64 of an IPv6 source). */
  readonly source: string
  buffered: Buffer
  idle: NodeJS.Timeout | undefined
  allocation: TcpAllocation | undefined
  /** Set once a ConnectionBind succeeded: the connection now carries peer bytes. */
  data: boolean
}

/**
 * TCP listener of the TURN server on the same port as UDP: control connections holding TCP
 * allocations (Allocate with REQUESTED-TRANSPORT 6, Refresh, CreatePermission, Connect) and
 * data connections (ConnectionBind, then raw bytes spliced to the peer). Bounded: connections
 * per source and in total, an idle deadline until a connection allocates or binds, pending
 * peer connections per allocation, and the 30 s ConnectionBind deadline.
 */
export class TcpRelay {
  readonly #ctx: TcpRelayContext
  readonly #opts: TurnTcpOptions
  #server: Server | undefined
  readonly #conns = new Set<ConnState>()
  readonly #perSource = new Map<string, number>()
  readonly #pending = new Map<number, PendingConnection>()
  readonly #allocations = new Set<TcpAllocation>()
  readonly #hairpins = new Hairpins()

  constructor(ctx: TcpRelayContext, opts: TurnTcpOptions = {}) {
    this.#ctx = ctx
    this.#opts = opts
  }

  get allocationCount(): number {
    return this.#allocations.size
  }

  /** Peer connections waiting for a ConnectionBind, over all allocations. */
  get pendingCount(): number {
    return this.#pending.size
  }

  /** TCP connections to the server now (control and data). */
  get connectionCount(): number {
    return this.#conns.size
  }

  /** Listens on `host:port` (TCP). Throws `TURN_SOCKET` when taken. */
  async listen(port: number): Promise<void> {
    const server = await listenOn(this.#ctx.host, port)
    server.on('connection', (s) => this.#onConnection(s))
    this.#server = server
  }

  async close(): Promise<void> {
    for (const a of [...this.#allocations]) this.#remove(a)
    for (const c of [...this.#conns]) c.socket.destroy()
    const s = this.#server
    this.#server = undefined
    if (s) await new Promise<void>((r) => s.close(() => r()))
  }

  sweep(now: number): void {
    for (const a of [...this.#allocations]) {
      if (a.expiresAt <= now) this.#remove(a)
      else a.sweep(now)
    }
  }

  #onConnection(socket: Socket): void {
    const ip = normalize(socket.remoteAddress ?? '')
    const source = sourceKey(ip)
    const n = this.#perSource.get(source) ?? 0
    if (
      n >= (this.#opts.maxConnectionsPerSource ?? 32) ||
      this.#conns.size >= (this.#opts.maxConnections ?? 2000)
    ) {
      this.#ctx.stats.tcpRefusedConnections++
      socket.destroy()
      return
    }
    this.#ctx.stats.tcpConnections++
    this.#perSource.set(source, n + 1)
    const c: ConnState = {
      socket,
      ip,
      source,
      buffered: Buffer.alloc(0) as Buffer,
      idle: undefined,
      allocation: undefined,
      data: false,
    }
    c.idle = setTimeout(() => {
      this.#ctx.stats.tcpIdleClosed++
      socket.destroy()
    }, this.#opts.idleTimeoutMs ?? 10_000)
    c.idle.unref()
    this.#conns.add(c)
    socket.setNoDelay(true)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => this.#onBytes(c, chunk))
    socket.on('end', () => {
      if (!c.data) socket.destroy()
    })
    socket.once('close', () => this.#closed(c))
    socket.resume()
  }

  #closed(c: ConnState): void {
    clearTimeout(c.idle)
    this.#conns.delete(c)
    const left = (this.#perSource.get(c.source) ?? 1) - 1
    if (left <= 0) this.#perSource.delete(c.source)
    else this.#perSource.set(c.source, left)
    // RFC 6062 §5.1: the allocation lives as long as its control connection.
    if (c.allocation) this.#remove(c.allocation)
  }

  #onBytes(c: ConnState, chunk: Buffer): void {
    if (c.data) return
    c.buffered = c.buffered.length === 0 ? chunk : Buffer.concat([c.buffered, chunk])
    while (!c.data && c.buffered.length >= HEADER_LENGTH) {
      // Only STUN on these connections (no channels on TCP allocations).
      if (((c.buffered[0] as number) & 0xc0) !== 0) return void c.socket.destroy()
      const size = HEADER_LENGTH + c.buffered.readUInt16BE(2)
      if (size > MAX_REQUEST_BYTES) return void c.socket.destroy()
      if (c.buffered.length < size) return
      const bytes = c.buffered.subarray(0, size)
      c.buffered = c.buffered.subarray(size)
      let msg: DecodedStunMessage
      try {
        msg = decodeMessage(bytes)
      } catch (err) {
        if (!(err instanceof StunError)) throw err
        return void c.socket.destroy()
      }
      this.#ctx.guard.received(c.source, bytes.length)
      if (msg.cls === StunClass.Request) this.#onRequest(c, msg)
    }
    if (c.buffered.length > MAX_REQUEST_BYTES) c.socket.destroy()
  }

  #onRequest(c: ConnState, req: DecodedStunMessage): void {
    // Unsigned requests spend the source's budget (signed ones that fail spend the failed-auth
    // one); over it: no reply, and the connection is not worth keeping.
    if (!signed(req) && !c.allocation && !this.#ctx.guard.takeUnauthenticated(c.source)) {
      return void c.socket.destroy()
    }
    try {
      this.#handle(c, req)
    } catch (err) {
      if (!(err instanceof StunError)) throw err
      this.#error(c, req, undefined, 400, 'Bad Request')
    }
  }

  #handle(c: ConnState, req: DecodedStunMessage): void {
    if (req.method === StunMethod.Binding) {
      const from = { host: c.ip, port: c.socket.remotePort ?? 0 }
      return void this.#reply(c, req, undefined, [attr.xorMappedAddress(from, req.transactionId)])
    }
    const unknown = req.attributes
      .map((a) => a.type)
      .filter((t) => isComprehensionRequired(t) && !KNOWN_ATTRIBUTES.has(t))
    if (unknown.length > 0) {
      return void this.#reply(
        c,
        req,
        undefined,
        [attr.errorCode(420, 'Unknown Attribute'), attr.unknownAttributes(unknown)],
        true,
      )
    }
    const check = this.#ctx.credentials.check(req, c.source)
    if (check.kind === 'challenge')
      return void this.#reply(c, req, undefined, check.attributes, true)
    if (check.kind === 'drop') return
    const auth = check.auth
    if (req.method === StunMethod.Allocate)
      return void this.#settle(c, req, auth, this.#allocate(c, req, auth))
    if (req.method === StunMethod.ConnectionBind) return void this.#connectionBind(c, req, auth)
    const a = c.allocation
    if (!a) return void this.#error(c, req, auth, 437, 'Allocation Mismatch')
    if (a.username !== auth.username)
      return void this.#error(c, req, auth, 441, 'Wrong Credentials')
    switch (req.method) {
      case StunMethod.Refresh: {
        const lifetime = this.#ctx.lifetime(req)
        if (lifetime === 0) this.#remove(a)
        else a.expiresAt = Date.now() + lifetime * 1000
        return void this.#reply(c, req, auth, [attr.uint32(AttrType.Lifetime, lifetime)])
      }
      case StunMethod.CreatePermission: {
        const peers = peersOf(req)
        if (peers.length === 0) return void this.#error(c, req, auth, 400, 'Bad Request')
        if (!peers.every((p) => this.#ctx.peerAllowed(p.host))) {
          return void this.#error(c, req, auth, 403, 'Forbidden')
        }
        if (!sameFamily(peers, a.family)) {
          return void this.#error(c, req, auth, 443, 'Peer Address Family Mismatch')
        }
        for (const p of peers) a.permit(p.host)
        return void this.#reply(c, req, auth, [])
      }
      case StunMethod.Connect:
        return void this.#settle(c, req, auth, this.#connect(c, req, auth, a))
      default:
        return void this.#error(c, req, auth, 400, 'Bad Request')
    }
  }

  /**
   * The asynchronous handlers throw what the synchronous ones do (a malformed attribute is a
   * StunError, answered 400), but as a rejection: caught here, never left unhandled.
   */
  #settle(c: ConnState, req: DecodedStunMessage, auth: Authenticated, work: Promise<void>): void {
    work.catch((err: unknown) => {
      if (err instanceof StunError) this.#error(c, req, auth, 400, 'Bad Request')
      else c.socket.destroy()
    })
  }

  async #allocate(c: ConnState, req: DecodedStunMessage, auth: Authenticated): Promise<void> {
    if (c.allocation) return void this.#error(c, req, auth, 437, 'Allocation Mismatch')
    const rt = findAttribute(req, AttrType.RequestedTransport)
    if (!rt) return void this.#error(c, req, auth, 400, 'Bad Request')
    const protocol = decodeRequestedTransport(rt.value)
    // UDP allocations are served over UDP only; TCP ones when enabled.
    if (protocol !== TransportProtocol.Tcp || this.#opts.allocations === false) {
      return void this.#error(c, req, auth, 442, 'Unsupported Transport Protocol')
    }
    const wanted = allocationFamily(req, this.#ctx.relayHosts)
    if ('error' in wanted) {
      const reason = wanted.error === 440 ? 'Address Family not Supported' : 'Bad Request'
      return void this.#error(c, req, auth, wanted.error, reason)
    }
    const refused = this.#ctx.quota.take(auth.username)
    if (refused === 486) return void this.#error(c, req, auth, 486, 'Allocation Quota Reached')
    if (refused === 508) return void this.#error(c, req, auth, 508, 'Insufficient Capacity')
    let listener: Server
    try {
      listener = await listenRelay(wanted.host, this.#ctx.relayPortRange)
    } catch {
      this.#ctx.quota.release(auth.username)
      return void this.#error(c, req, auth, 508, 'Insufficient Capacity')
    }
    const port = (listener.address() as { port: number }).port
    if (c.socket.destroyed || c.allocation || !this.#server) {
      listener.close()
      this.#ctx.quota.release(auth.username)
      return
    }
    const lifetime = Math.max(1, this.#ctx.lifetime(req) || this.#ctx.defaultLifetimeSec)
    const relayed = { host: wanted.host, port }
    const alloc = new TcpAllocation(auth.username, c.socket, listener, relayed, lifetime, {
      register: (make) => this.#register(make),
      unregister: (p) => {
        if (this.#pending.get(p.id) === p) this.#pending.delete(p.id)
      },
      announce: (p) => this.#announce(p),
      bindTimeoutMs: this.#opts.connectionBindTimeoutMs ?? 30_000,
      maxPending: this.#opts.maxPendingPerAllocation ?? 8,
      maxConnections: this.#opts.maxConnectionsPerAllocation ?? 64,
      permissionLifetimeMs: this.#ctx.permissionLifetimeMs,
      stats: this.#ctx.stats,
      hairpins: this.#hairpins,
    })
    c.allocation = alloc
    clearTimeout(c.idle)
    this.#allocations.add(alloc)
    this.#ctx.stats.tcpAllocations++
    const from = { host: c.ip, port: c.socket.remotePort ?? 0 }
    this.#reply(c, req, auth, [
      attr.xorAddress(AttrType.XorRelayedAddress, relayed, req.transactionId),
      attr.uint32(AttrType.Lifetime, lifetime),
      attr.xorMappedAddress(from, req.transactionId),
    ])
  }

  async #connect(
    c: ConnState,
    req: DecodedStunMessage,
    auth: Authenticated,
    a: TcpAllocation,
  ): Promise<void> {
    const peer = peersOf(req)[0]
    if (!peer) return void this.#error(c, req, auth, 400, 'Bad Request')
    if (!this.#ctx.peerAllowed(peer.host) || !a.permitted(peer.host)) {
      this.#ctx.stats.tcpRefusedPeers++
      return void this.#error(c, req, auth, 403, 'Forbidden')
    }
    const busy = a.mayConnect(peer)
    if (busy === 446) return void this.#error(c, req, auth, 446, 'Connection Already Exists')
    if (busy === 508) return void this.#error(c, req, auth, 508, 'Insufficient Capacity')
    let pending: PendingConnection
    try {
      pending = await a.connect(peer, this.#opts.connectTimeoutMs ?? 10_000)
    } catch {
      return void this.#error(c, req, auth, 447, 'Connection Timeout or Failure')
    }
    this.#reply(c, req, auth, [attr.connectionId(pending.id)])
  }

  #connectionBind(c: ConnState, req: DecodedStunMessage, auth: Authenticated): void {
    if (c.allocation) return void this.#error(c, req, auth, 400, 'Bad Request')
    const idAttr = findAttribute(req, AttrType.ConnectionId)
    const pending = idAttr ? this.#pending.get(decodeConnectionId(idAttr.value)) : undefined
    if (!pending || pending.allocation.closed)
      return void this.#error(c, req, auth, 400, 'Bad Request')
    if (pending.allocation.username !== auth.username) {
      return void this.#error(c, req, auth, 441, 'Wrong Credentials')
    }
    this.#reply(c, req, auth, [])
    c.data = true
    clearTimeout(c.idle)
    const leftover = c.buffered
    c.buffered = Buffer.alloc(0)
    c.socket.pause()
    c.socket.removeAllListeners('data')
    c.socket.removeAllListeners('end')
    // Relayed bytes are copied through one buffer of the connection's own (see Pump).
    const pump = Pump.adopt(c.socket)
    if (pump) {
      c.socket = pump.socket
      pump.socket.on('error', () => {})
      pump.socket.once('close', () => this.#closed(c))
    }
    pending.allocation.splice(pending, c.socket, leftover, pump)
  }

  #register(make: (id: number) => PendingConnection): PendingConnection {
    let id = randomInt(1, 0xffffffff)
    while (this.#pending.has(id)) id = randomInt(1, 0xffffffff)
    const p = make(id)
    this.#pending.set(id, p)
    return p
  }

  #announce(p: PendingConnection): void {
    const tid = newTransactionId()
    const ind = createMessage({
      method: StunMethod.ConnectionAttempt,
      cls: StunClass.Indication,
      transactionId: tid,
      attributes: [attr.xorAddress(AttrType.XorPeerAddress, p.peer, tid), attr.connectionId(p.id)],
    })
    p.allocation.control.write(encodeMessage(ind, { fingerprint: true }))
  }

  #remove(a: TcpAllocation): void {
    if (!this.#allocations.delete(a)) return
    a.close()
    this.#ctx.quota.release(a.username)
  }

  #error(
    c: ConnState,
    req: DecodedStunMessage,
    auth: Authenticated | undefined,
    code: number,
    reason: string,
  ): void {
    this.#reply(c, req, auth, [attr.errorCode(code, reason)], true)
  }

  #reply(
    c: ConnState,
    req: DecodedStunMessage,
    auth: Authenticated | undefined,
    attributes: StunAttribute[],
    error = false,
  ): void {
    if (c.socket.destroyed) return
    if (auth && this.#ctx.software) attributes.push(attr.software(this.#ctx.software))
    const res = createMessage({
      method: req.method,
      cls: error ? StunClass.ErrorResponse : StunClass.SuccessResponse,
      transactionId: req.transactionId,
      attributes,
    })
    c.socket.write(encodeMessage(res, auth?.encode ?? {}))
  }
}

function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}
