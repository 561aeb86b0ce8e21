import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { type Endpoint, throwIfAborted, withDeadline } from '@p2pd/interface'
import {
  AttrType,
  attr,
  type DecodedStunMessage,
  decodeConnectionId,
  decodeXorAddress,
  findAttribute,
  ipFamily,
  readAttributes,
  resolveServer,
  type StunAddress,
  type StunAttribute,
  StunClass,
  StunMethod,
  TransportProtocol,
} from '@p2pd/stun'
import { TurnError } from '../errors.js'
import { checkRelayedFamily, requestedFamily } from './address-family.js'
import { LongTermAuth } from './auth.js'
import { dialServer, type StreamTarget, unboundDataConnection } from './data-connection.js'
import { AllocationLifecycle } from './lifecycle.js'
import { authenticatedRequest } from './request.js'
import { type Inbound, openStream, type ServerConnection } from './transport.js'
import type { TurnClientOptions, TurnServerConfig } from './turn-client.js'

/** Options of {@link TurnTcpClient.allocate}. */
export interface TurnTcpClientOptions
  extends Omit<TurnClientOptions, 'channelRefreshMs' | 'rtoMs'> {
  /**
   * Bind the data connection of each ConnectionAttempt from a permitted peer and emit it as
   * `'connection'` (default true). At most {@link MAX_INBOUND_BINDS} binds run at once; more
   * attempts are left for the server to time out.
   */
  readonly acceptConnections?: boolean
}

/** Options of {@link TurnTcpClient.connect}. */
export interface TurnTcpConnectOptions {
  readonly signal?: AbortSignal
  /** Deadline of Connect + data connection + ConnectionBind (default 10 s). */
  readonly timeoutMs?: number
}

export interface TurnTcpClientEvents {
  /** A peer connected to our relayed address and the data connection is bound: raw bytes. */
  connection: [socket: Socket, peer: Endpoint]
  /** A background refresh succeeded. */
  refresh: [kind: 'allocation' | 'permission']
  /** The allocation is gone (refresh failed, control connection dropped); the client closes. */
  lost: [error: TurnError]
  close: []
}

/** ConnectionBinds for inbound attempts running at once; further attempts are ignored. */
export const MAX_INBOUND_BINDS = 8

/**
 * A TURN client holding one **TCP allocation** (RFC 6062) on one server, over a TCP or TLS
 * control connection. `connect(peer)` asks the server to open a TCP connection to the peer
 * (Connect), then opens a data connection to the server and binds it (ConnectionBind): the
 * returned socket is a raw byte stream to the peer, relayed by the kernel on both legs.
 * Peers that connect to {@link relayed} (with a permission) arrive as `'connection'`.
 * Long-term credentials, refreshes of the allocation and permissions like {@link TurnClient};
 * `close()` deallocates and destroys every data connection.
 */
export class TurnTcpClient extends EventEmitter<TurnTcpClientEvents> {
  readonly server: Endpoint
  readonly #target: StreamTarget
  readonly #conn: ServerConnection
  readonly #auth: LongTermAuth
  readonly #opts: TurnTcpClientOptions
  #relayed!: StunAddress
  #mapped: StunAddress | undefined
  /** Lifetime, refreshes, permissions and request deadlines (shared with TurnClient). */
  readonly #upkeep: AllocationLifecycle
  readonly #sockets = new Set<Socket>()
  #software: string | undefined
  #allocateRttMs: number | undefined
  #inboundBinds = 0
  #closed = false
  #closing: Promise<void> | undefined

  private constructor(
    conn: ServerConnection,
    target: StreamTarget,
    auth: LongTermAuth,
    opts: TurnTcpClientOptions,
  ) {
    super()
    this.#conn = conn
    this.#target = target
    this.server = conn.server
    this.#auth = auth
    this.#opts = opts
    this.#upkeep = new AllocationLifecycle(
      {
        request: (method, build, signal) => this.#request(method, build, signal),
        refreshed: (kind) => this.emit('refresh', kind),
        lose: (err) => this.#lose(err),
      },
      opts,
    )
    conn.onInbound((i) => this.#onInbound(i))
    conn.onClosed((err) => this.#lose(err))
  }

  /**
   * Connects to `server` over TCP (or TLS when `server.transport` is `'tls'`; `'udp'` means
   * TCP to the same port) and allocates a TCP relay. Throws `TurnError`:
   * `TURN_UNSUPPORTED_TRANSPORT` (442) when the server has no TCP relays, `TURN_SOCKET` when
   * TCP to the server fails, `TURN_UNAUTHORIZED`, `TURN_QUOTA`…; `TimeoutError` or
   * `AbortError`. Nothing stays open on failure.
   */
  static allocate(
    server: TurnServerConfig,
    opts: TurnTcpClientOptions = {},
  ): Promise<TurnTcpClient> {
    return withDeadline(
      opts.timeoutMs ?? 10_000,
      opts.signal,
      async (signal) => {
        const client = await TurnTcpClient.#allocateWithin(server, opts, signal)
        if (signal.aborted) {
          await client.close()
          throwIfAborted(signal)
        }
        return client
      },
      `TURN TCP allocation on ${server.host}`,
    )
  }

  static async #allocateWithin(
    server: TurnServerConfig,
    opts: TurnTcpClientOptions,
    signal: AbortSignal,
  ): Promise<TurnTcpClient> {
    const transport = server.transport === 'tls' ? 'tls' : 'tcp'
    const port = server.port ?? (transport === 'tls' ? 5349 : 3478)
    let endpoint: Endpoint
    try {
      endpoint = await resolveServer({ host: server.host, port }, { signal })
    } catch (err) {
      throwIfAborted(signal)
      throw new TurnError('TURN_SOCKET', `cannot resolve ${server.host}`, { cause: err })
    }
    const target: StreamTarget = {
      server: endpoint,
      transport,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(server.tls ? { tls: server.tls } : {}),
    }
    const conn = await openStream(endpoint, {
      transport,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(server.tls ? { tls: server.tls } : {}),
      signal,
    })
    const client = new TurnTcpClient(
      conn,
      target,
      new LongTermAuth(server.username, server.password),
      opts,
    )
    try {
      await client.#allocate(signal)
      return client
    } catch (err) {
      client.#closed = true
      await conn.close()
      throw err
    }
  }

  /** Our relayed transport address: where peers connect (TCP). */
  get relayed(): StunAddress {
    return this.#relayed
  }

  /** Our address as the server sees it (XOR-MAPPED-ADDRESS), when it said. */
  get mapped(): StunAddress | undefined {
    return this.#mapped
  }

  /** Lifetime (s) the server granted at the last Allocate/Refresh. */
  get lifetimeSec(): number {
    return this.#upkeep.lifetimeSec
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Data connections open now (connected or accepted, not yet closed). */
  get connectionCount(): number {
    return this.#sockets.size
  }

  /**
   * The server's SOFTWARE in its (authenticated) Allocate response, when it sent one: which
   * implementation relays our TCP legs (see `relay-choice.ts`).
   */
  get software(): string | undefined {
    return this.#software
  }

  /**
   * Shortest request→response time of the Allocate exchange (ms): the round trip to the
   * server over the control connection, plus its processing of one request.
   */
  get allocateRttMs(): number | undefined {
    return this.#allocateRttMs
  }

  async #allocate(signal: AbortSignal): Promise<void> {
    const res = await this.#request(
      StunMethod.Allocate,
      () => [
        attr.requestedTransport(TransportProtocol.Tcp),
        attr.uint32(AttrType.Lifetime, this.#opts.lifetimeSec ?? 600),
        ...requestedFamily(this.#opts.addressFamily),
      ],
      signal,
      (ms) => {
        this.#allocateRttMs = Math.min(this.#allocateRttMs ?? ms, ms)
      },
    )
    const relayedAttr = findAttribute(res, AttrType.XorRelayedAddress)
    if (!relayedAttr) {
      throw new TurnError('TURN_BAD_RESPONSE', 'Allocate response without XOR-RELAYED-ADDRESS')
    }
    try {
      this.#relayed = decodeXorAddress(relayedAttr.value, res.transactionId)
      const read = readAttributes(res)
      this.#mapped = read.xorMappedAddress
      this.#software = read.software
    } catch (err) {
      throw new TurnError('TURN_BAD_RESPONSE', 'malformed address in Allocate response', {
        cause: err,
      })
    }
    checkRelayedFamily(this.#relayed, this.#opts.addressFamily)
    this.#upkeep.setLifetime(res)
  }

  /** Refreshes the allocation now; `TURN_ALLOCATION_MISMATCH` when the server lost it. */
  async refresh(options: { lifetimeSec?: number; signal?: AbortSignal } = {}): Promise<number> {
    this.#assertOpen()
    return this.#upkeep.refresh(options)
  }

  /**
   * Permits the IPs of `peers` (ports are ignored) to connect to our relayed address, and
   * keeps the permissions refreshed. `TURN_FORBIDDEN` when the server refuses a peer.
   */
  async createPermission(
    peers: Endpoint | readonly Endpoint[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#assertOpen()
    await this.#upkeep.createPermission(peers, options)
  }

  /**
   * Opens a TCP connection from our relayed address to `peer` (RFC 6062 Connect; the server
   * dials) and binds a new data connection to it. Resolves with the data connection: from
   * now on raw bytes to and from the peer. Throws `TURN_CONNECTION_FAILED` (447) when the
   * server cannot reach the peer, `TURN_FORBIDDEN` (403) without a permission the server
   * requires, `TURN_SOCKET`, `TimeoutError`, `AbortError`.
   */
  connect(peer: Endpoint, options: TurnTcpConnectOptions = {}): Promise<Socket> {
    this.#assertOpen()
    if (ipFamily(peer.host) === 0) {
      return Promise.reject(new TurnError('TURN_BAD_INPUT', `not an IP: ${peer.host}`))
    }
    return withDeadline(
      options.timeoutMs ?? 10_000,
      [options.signal, this.#upkeep.signal],
      async (signal) => {
        const res = await this.#request(
          StunMethod.Connect,
          (tid) => [attr.xorAddress(AttrType.XorPeerAddress, peer, tid)],
          signal,
        )
        const idAttr = findAttribute(res, AttrType.ConnectionId)
        if (!idAttr)
          throw new TurnError('TURN_BAD_RESPONSE', 'Connect response without CONNECTION-ID')
        let id: number
        try {
          id = decodeConnectionId(idAttr.value)
        } catch (cause) {
          throw new TurnError('TURN_BAD_RESPONSE', 'malformed CONNECTION-ID', { cause })
        }
        return this.#bind(id, signal)
      },
      `TURN TCP connect to ${peer.host}:${peer.port}`,
    )
  }

  /** A new data connection to the server, bound to connection `id` (ConnectionBind). */
  async #bind(id: number, signal: AbortSignal): Promise<Socket> {
    const socket = await dialServer(this.#target, signal)
    try {
      await authenticatedRequest(
        unboundDataConnection(socket, this.#target),
        this.#auth.clone(),
        this.#opts,
        StunMethod.ConnectionBind,
        () => [attr.connectionId(id)],
        signal,
      )
      throwIfAborted(signal)
    } catch (err) {
      socket.destroy()
      throw err
    }
    if (this.#closed) {
      socket.destroy()
      throw new TurnError('TURN_CLOSED', 'TURN client is closed')
    }
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    return socket
  }

  #onInbound(i: Inbound): void {
    if (i.kind !== 'stun') return
    const m = i.message
    if (m.method !== StunMethod.ConnectionAttempt || m.cls !== StunClass.Indication) return
    if (this.#opts.acceptConnections === false || this.#inboundBinds >= MAX_INBOUND_BINDS) return
    const idAttr = findAttribute(m, AttrType.ConnectionId)
    const peerAttr = findAttribute(m, AttrType.XorPeerAddress)
    if (!idAttr || !peerAttr) return
    let id: number
    let peer: Endpoint
    try {
      id = decodeConnectionId(idAttr.value)
      const p = decodeXorAddress(peerAttr.value, m.transactionId)
      peer = { host: p.host, port: p.port }
    } catch {
      return
    }
    this.#inboundBinds++
    void this.#upkeep
      .within(this.#upkeep.signal, 'TURN ConnectionBind', (signal) => this.#bind(id, signal))
      .then(
        (socket) => {
          this.#inboundBinds--
          if (this.listenerCount('connection') === 0) socket.destroy()
          else this.emit('connection', socket, peer)
        },
        () => {
          // The server closes the peer's connection when no bind comes within 30 s.
          this.#inboundBinds--
        },
      )
  }

  /** Deallocates (Refresh, LIFETIME 0, best effort, 2 s), destroys every data connection. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const wasOpen = !this.#closed
    this.#upkeep.stop()
    if (wasOpen) await this.#upkeep.deallocate()
    this.#closed = true
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
    await this.#conn.close()
    this.emit('close')
  }

  #lose(err: TurnError): void {
    if (this.#closed || this.#closing) return
    this.#closed = true
    this.#upkeep.stop()
    this.emit('lost', err)
    for (const s of this.#sockets) s.destroy(err)
    this.#sockets.clear()
    this.#closing = this.#conn.close().then(() => {
      this.emit('close')
    })
  }

  #assertOpen(): void {
    if (this.#closed || this.#closing) throw new TurnError('TURN_CLOSED', 'TURN client is closed')
  }

  #request(
    method: number,
    build: (transactionId: Uint8Array) => StunAttribute[],
    signal: AbortSignal,
    onRoundTrip?: (ms: number) => void,
  ): Promise<DecodedStunMessage> {
    return authenticatedRequest(
      this.#conn,
      this.#auth,
      this.#opts,
      method,
      build,
      signal,
      onRoundTrip,
    )
  }
}
