import { EventEmitter } from 'node:events'
import type { ConnectionOptions } from 'node:tls'
import { type Endpoint, throwIfAborted, withDeadline } from '@p2pd/interface'
import {
  AttrType,
  attr,
  type DecodedStunMessage,
  decodeXorAddress,
  findAttribute,
  ipFamily,
  readAttributes,
  resolveServer,
  type StunAddress,
  type StunAttribute,
  StunClass,
  StunMethod,
} from '@p2pd/stun'
import { type StreamError, TurnError } from '../errors.js'
import { peerDataIndication } from '../peer-data.js'
import type { DatagramLink } from '../stream/link.js'
import { checkRelayedFamily, requestedFamily } from './address-family.js'
import { LongTermAuth } from './auth.js'
import { AllocationLifecycle } from './lifecycle.js'
import { authenticatedRequest } from './request.js'
import {
  type Inbound,
  openStream,
  openUdp,
  type ServerConnection,
  type TurnTransport,
} from './transport.js'

/** A TURN server the user configured (nothing is built in). */
export interface TurnServerConfig {
  /** IP literal or host name. */
  readonly host: string
  /** Default 3478 (5349 for TLS). */
  readonly port?: number
  /** How to reach the server (default `'udp'`). The relayed transport is always UDP. */
  readonly transport?: TurnTransport
  readonly username: string
  readonly password: string
  /** For `transport: 'tls'`: `servername`, `ca`, `rejectUnauthorized`… (node:tls). */
  readonly tls?: ConnectionOptions
}

/** Options of {@link TurnClient.allocate}. */
export interface TurnClientOptions {
  readonly signal?: AbortSignal
  /** Deadline of the allocation, authentication round trips included (default 10 s). */
  readonly timeoutMs?: number
  /** Deadline of each later request: refreshes, permissions, channels (default 5 s). */
  readonly requestTimeoutMs?: number
  /** LIFETIME to ask for, in seconds (default 600; the server may grant less). */
  readonly lifetimeSec?: number
  /** Refresh the allocation this long before it expires (default 60 s; at least halfway). */
  readonly refreshMarginMs?: number
  /** Re-install permissions this often (default 240 s: before the 300 s expiry). */
  readonly permissionRefreshMs?: number
  /** Re-bind channels this often (default 540 s: before the 600 s expiry). */
  readonly channelRefreshMs?: number
  /** Local IP to bind the socket to. */
  readonly localAddress?: string
  /**
   * The family of the relayed address to ask for (REQUESTED-ADDRESS-FAMILY). Default: not
   * asked, the server relays over IPv4. A server without relays of that family refuses with
   * `TURN_ADDRESS_FAMILY` (440); a relay reaches only peers of its own family (others:
   * `TURN_PEER_ADDRESS_FAMILY`, 443). Independent of how the server itself is reached.
   */
  readonly addressFamily?: 4 | 6
  /** UDP initial retransmission timeout (default 500 ms). */
  readonly rtoMs?: number
  /** SOFTWARE attribute to send (default none). */
  readonly software?: string
}

/** Counters, mostly for tests and diagnostics. */
export interface TurnClientStats {
  allocationRefreshes: number
  permissionRefreshes: number
  channelRefreshes: number
  sentChannelData: number
  sentIndications: number
  receivedChannelData: number
  receivedIndications: number
}

export interface TurnClientEvents {
  /** Relayed data from a peer (through a channel or a Data indication). */
  data: [data: Buffer, peer: Endpoint]
  /** A background refresh succeeded. */
  refresh: [kind: 'allocation' | 'permission' | 'channel']
  /**
   * The allocation is gone (refresh answered 437, timed out, or the TCP/TLS connection
   * dropped). The client closes itself after this event.
   */
  lost: [error: TurnError]
  close: []
}

const FIRST_CHANNEL = 0x4000
const LAST_CHANNEL = 0x4fff

function peerKey(p: Endpoint): string {
  return `${p.host}|${p.port}`
}

/** Allocate attempts, each from a new local port, while the server answers 437. */
const MISMATCH_ATTEMPTS = 3

/**
 * A TURN client (RFC 8656) holding one UDP allocation on one server, reached over UDP, TCP or
 * TLS. Long-term credentials with realm/nonce (401 → retry signed; 438 → retry with the new
 * nonce; MESSAGE-INTEGRITY-SHA256 when the server offers SHA-256). Refreshes the allocation
 * at lifetime − 60 s, permissions every 240 s, channels every 540 s. Data goes through
 * ChannelData once a channel is bound, Send indications before. `close()` deallocates
 * (Refresh, LIFETIME 0) and releases every socket and timer.
 */
export class TurnClient extends EventEmitter<TurnClientEvents> {
  readonly server: Endpoint
  readonly transport: TurnTransport
  readonly #conn: ServerConnection
  readonly #auth: LongTermAuth
  readonly #opts: TurnClientOptions
  #relayed!: StunAddress
  #mapped: StunAddress | undefined
  /** Lifetime, refreshes, permissions and request deadlines (shared with TurnTcpClient). */
  readonly #upkeep: AllocationLifecycle
  #channelTimer: NodeJS.Timeout | undefined
  readonly #channelsByPeer = new Map<string, { number: number; peer: Endpoint }>()
  readonly #peersByChannel = new Map<number, Endpoint>()
  readonly #receivers = new Map<string, (data: Buffer) => void>()
  #nextChannel = FIRST_CHANNEL
  #closed = false
  #closing: Promise<void> | undefined
  readonly stats: TurnClientStats = {
    allocationRefreshes: 0,
    permissionRefreshes: 0,
    channelRefreshes: 0,
    sentChannelData: 0,
    sentIndications: 0,
    receivedChannelData: 0,
    receivedIndications: 0,
  }

  private constructor(conn: ServerConnection, auth: LongTermAuth, opts: TurnClientOptions) {
    super()
    this.#conn = conn
    this.server = conn.server
    this.transport = conn.transport
    this.#auth = auth
    this.#opts = opts
    this.#upkeep = new AllocationLifecycle(
      {
        request: (method, build, signal) => this.#request(method, build, signal),
        refreshed: (kind) => {
          if (kind === 'allocation') this.stats.allocationRefreshes++
          else this.stats.permissionRefreshes++
          this.emit('refresh', kind)
        },
        lose: (err) => this.#lose(err),
      },
      opts,
    )
    conn.onInbound((i) => this.#onInbound(i))
    conn.onClosed((err) => this.#lose(err))
  }

  /**
   * Connects to `server` and allocates a UDP relay. Throws `TurnError` (`TURN_UNAUTHORIZED`,
   * `TURN_QUOTA`, `TURN_CAPACITY`, `TURN_FORBIDDEN`, `TURN_NO_RESPONSE`, `TURN_SOCKET`…),
   * `TimeoutError` or `AbortError`; nothing stays open on failure.
   */
  static allocate(server: TurnServerConfig, opts: TurnClientOptions = {}): Promise<TurnClient> {
    return withDeadline(
      opts.timeoutMs ?? 10_000,
      opts.signal,
      async (signal) => {
        const client = await TurnClient.#allocateWithin(server, opts, signal)
        // Allocated just as the deadline fired: the caller has its TimeoutError already.
        if (signal.aborted) {
          await client.close()
          throwIfAborted(signal)
        }
        return client
      },
      `TURN allocation on ${server.host}`,
    )
  }

  static async #allocateWithin(
    server: TurnServerConfig,
    opts: TurnClientOptions,
    signal: AbortSignal,
  ): Promise<TurnClient> {
    const transport = server.transport ?? 'udp'
    const port = server.port ?? (transport === 'tls' ? 5349 : 3478)
    let endpoint: Endpoint
    try {
      endpoint = await resolveServer({ host: server.host, port }, { signal })
    } catch (err) {
      throwIfAborted(signal)
      throw new TurnError('TURN_SOCKET', `cannot resolve ${server.host}`, { cause: err })
    }
    // RFC 8656 §7.3: a 437 to an Allocate means our 5-tuple still holds an allocation (an
    // earlier process that used the same local port and did not deallocate): try from a
    // fresh local port, a few times.
    for (let attempt = 1; ; attempt++) {
      const conn =
        transport === 'udp'
          ? await openUdp(endpoint, {
              ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
              signal,
            })
          : await openStream(endpoint, {
              transport,
              ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
              ...(server.tls ? { tls: server.tls } : {}),
              signal,
            })
      const client = new TurnClient(conn, new LongTermAuth(server.username, server.password), opts)
      try {
        await client.#allocate(signal)
        return client
      } catch (err) {
        client.#closed = true
        await conn.close()
        const mismatch = err instanceof TurnError && err.code === 'TURN_ALLOCATION_MISMATCH'
        if (!mismatch || attempt >= MISMATCH_ATTEMPTS || signal.aborted) throw err
      }
    }
  }

  /** Our relayed transport address: what peers send to. */
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

  /** The local address of our socket to the server. */
  get local(): Endpoint {
    return this.#conn.local
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The realm the server announced. */
  get realm(): string | undefined {
    return this.#auth.realm
  }

  /** `'md5'` (MESSAGE-INTEGRITY) or `'sha256'` (MESSAGE-INTEGRITY-SHA256, when offered). */
  get passwordAlgorithm(): 'md5' | 'sha256' {
    return this.#auth.algorithm
  }

  async #allocate(signal: AbortSignal): Promise<void> {
    const res = await this.#request(
      StunMethod.Allocate,
      () => [
        attr.uint32(AttrType.RequestedTransport, 17 << 24),
        attr.uint32(AttrType.Lifetime, this.#opts.lifetimeSec ?? 600),
        ...requestedFamily(this.#opts.addressFamily),
      ],
      signal,
    )
    const relayedAttr = findAttribute(res, AttrType.XorRelayedAddress)
    if (!relayedAttr) {
      throw new TurnError('TURN_BAD_RESPONSE', 'Allocate response without XOR-RELAYED-ADDRESS')
    }
    try {
      this.#relayed = decodeXorAddress(relayedAttr.value, res.transactionId)
      this.#mapped = readAttributes(res).xorMappedAddress
    } catch (err) {
      throw new TurnError('TURN_BAD_RESPONSE', 'malformed address in Allocate response', {
        cause: err,
      })
    }
    checkRelayedFamily(this.#relayed, this.#opts.addressFamily)
    this.#upkeep.setLifetime(res)
  }

  /**
   * Refreshes the allocation now (LIFETIME `lifetimeSec`, default: the one asked at first).
   * Throws `TURN_ALLOCATION_MISMATCH` (437) when the server no longer knows it.
   */
  async refresh(options: { lifetimeSec?: number; signal?: AbortSignal } = {}): Promise<number> {
    this.#assertOpen()
    return this.#upkeep.refresh(options)
  }

  /**
   * Installs permissions for the IPs of `peers` (ports are ignored, RFC 8656 §9) and keeps
   * them refreshed. Throws `TURN_FORBIDDEN` (403) when the server refuses a peer.
   */
  async createPermission(
    peers: Endpoint | readonly Endpoint[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#assertOpen()
    await this.#upkeep.createPermission(peers, options)
  }

  /**
   * Binds a channel to `peer` (which also installs its permission) and keeps it bound; data
   * to and from the peer then uses 4-byte ChannelData headers. Returns the channel number.
   */
  async bindChannel(peer: Endpoint, options: { signal?: AbortSignal } = {}): Promise<number> {
    this.#assertOpen()
    if (ipFamily(peer.host) === 0) throw new TurnError('TURN_BAD_INPUT', `not an IP: ${peer.host}`)
    const key = peerKey(peer)
    const existing = this.#channelsByPeer.get(key)
    if (existing) return existing.number
    if (this.#nextChannel > LAST_CHANNEL) {
      throw new TurnError('TURN_BAD_INPUT', 'all 4,096 channel numbers are in use')
    }
    const number = this.#nextChannel++
    // Incoming ChannelData may arrive as soon as the server has bound it.
    this.#peersByChannel.set(number, peer)
    try {
      await this.#upkeep.within(options.signal, 'TURN ChannelBind', (signal) =>
        this.#sendChannelBind(number, peer, signal),
      )
    } catch (err) {
      this.#peersByChannel.delete(number)
      throw err
    }
    this.#channelsByPeer.set(key, { number, peer })
    this.#upkeep.permit(peer.host)
    this.#armChannelTimer()
    return number
  }

  async #sendChannelBind(number: number, peer: Endpoint, signal: AbortSignal): Promise<void> {
    const channel = Buffer.alloc(4)
    channel.writeUInt16BE(number, 0)
    await this.#request(
      StunMethod.ChannelBind,
      (tid) => [
        attr.raw(AttrType.ChannelNumber, channel),
        attr.xorAddress(AttrType.XorPeerAddress, peer, tid),
      ],
      signal,
    )
  }

  #armChannelTimer(): void {
    if (this.#channelTimer) return
    this.#channelTimer = setInterval(async () => {
      try {
        for (const { number, peer } of this.#channelsByPeer.values()) {
          await this.#upkeep.within(this.#upkeep.signal, 'TURN channel refresh', (s) =>
            this.#sendChannelBind(number, peer, s),
          )
        }
        this.stats.channelRefreshes++
        this.emit('refresh', 'channel')
      } catch (err) {
        this.#lose(
          new TurnError(
            'TURN_ALLOCATION_LOST',
            `channel refresh failed: ${(err as Error).message}`,
            {
              cause: err,
            },
          ),
        )
      }
    }, this.#opts.channelRefreshMs ?? 540_000)
    this.#channelTimer.unref()
  }

  /**
   * Sends `data` to `peer` through the relay: ChannelData when a channel is bound to it, a
   * Send indication otherwise. Best effort (UDP semantics); the peer needs a permission.
   */
  send(data: Uint8Array, peer: Endpoint): void {
    if (this.#closed) return
    const ch = this.#channelsByPeer.get(peerKey(peer))
    if (ch) {
      const pad = this.transport === 'udp' ? 0 : (4 - (data.length % 4)) % 4
      const frame = Buffer.allocUnsafe(4 + data.length + pad)
      frame.writeUInt16BE(ch.number, 0)
      frame.writeUInt16BE(data.length, 2)
      frame.set(data, 4)
      if (pad) frame.fill(0, 4 + data.length)
      this.stats.sentChannelData++
      this.#conn.send(frame)
      return
    }
    this.stats.sentIndications++
    this.#conn.send(peerDataIndication(StunMethod.Send, peer, data))
  }

  /**
   * A {@link DatagramLink} to one peer over this allocation (what the reliable stream runs
   * on). Its datagrams are no longer emitted as `'data'`. Closing the link stops the
   * demultiplexing; close the client separately (or pass `closeClient: true`).
   */
  link(peer: Endpoint, options: { closeClient?: boolean } = {}): DatagramLink {
    const key = peerKey(peer)
    // One 1,500-byte MTU datagram on every leg: IP (20, or 40 when any leg is IPv6), UDP 8,
    // the ChannelData header 4 (the stream probes whether the path really takes it).
    const v6 = [this.server.host, this.relayed.host, peer.host].some((h) => h.includes(':'))
    return {
      maxPacketSize: 1500 - (v6 ? 40 : 20) - 8 - 4,
      send: (packet) => this.send(packet, peer),
      lostError: (cause: StreamError) =>
        new TurnError(
          'TURN_RELAY_LOST',
          `relayed path to ${peer.host}:${peer.port} via ` +
            `${this.server.host}:${this.server.port} lost: ${cause.message}`,
          { cause },
        ),
      onReceive: (handler) => {
        this.#receivers.set(key, handler)
      },
      close: async () => {
        this.#receivers.delete(key)
        if (options.closeClient) await this.close()
      },
    }
  }

  /** Deallocates (Refresh with LIFETIME 0, best effort, 2 s) and releases everything. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const wasOpen = !this.#closed
    this.#stopTimers()
    if (wasOpen) await this.#upkeep.deallocate()
    this.#closed = true
    this.#receivers.clear()
    await this.#conn.close()
    this.emit('close')
  }

  #stopTimers(): void {
    this.#upkeep.stop()
    clearInterval(this.#channelTimer)
    this.#channelTimer = undefined
  }

  #lose(err: TurnError): void {
    if (this.#closed || this.#closing) return
    this.#closed = true
    this.#stopTimers()
    this.emit('lost', err)
    this.#closing = this.#conn.close().then(() => {
      this.#receivers.clear()
      this.emit('close')
    })
  }

  #assertOpen(): void {
    if (this.#closed || this.#closing) throw new TurnError('TURN_CLOSED', 'TURN client is closed')
  }

  #onInbound(i: Inbound): void {
    if (i.kind === 'channel-data') {
      const number = i.data.readUInt16BE(0)
      const length = i.data.readUInt16BE(2)
      const peer = this.#peersByChannel.get(number)
      if (!peer || length > i.data.length - 4) return
      this.stats.receivedChannelData++
      this.#deliver(i.data.subarray(4, 4 + length), peer)
      return
    }
    const m = i.message
    if (m.method !== StunMethod.Data || m.cls !== StunClass.Indication) return
    const peerAttr = findAttribute(m, AttrType.XorPeerAddress)
    const data = findAttribute(m, AttrType.Data)
    if (!peerAttr || !data) return
    let peer: StunAddress
    try {
      peer = decodeXorAddress(peerAttr.value, m.transactionId)
    } catch {
      return
    }
    this.stats.receivedIndications++
    this.#deliver(data.value, { host: peer.host, port: peer.port })
  }

  #deliver(data: Buffer, peer: Endpoint): void {
    const receiver = this.#receivers.get(peerKey(peer))
    if (receiver) receiver(data)
    else this.emit('data', data, peer)
  }

  /** One authenticated request (see {@link authenticatedRequest}). */
  #request(
    method: number,
    build: (transactionId: Uint8Array) => StunAttribute[],
    signal: AbortSignal,
  ): Promise<DecodedStunMessage> {
    return authenticatedRequest(this.#conn, this.#auth, this.#opts, method, build, signal)
  }
}
