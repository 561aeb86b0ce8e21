import { randomInt } from 'node:crypto'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import type { Endpoint } from '@p2pd/interface'
import { ipFamily } from '@p2pd/stun'
import { TurnError } from '../errors.js'
import { fuse, type Hairpins } from './tcp-hairpin.js'
import { Pump } from './tcp-pump.js'

/** One peer connection waiting for its ConnectionBind (RFC 6062 §5.2, §5.3). */
export interface PendingConnection {
  readonly id: number
  readonly allocation: TcpAllocation
  readonly peer: Endpoint
  readonly socket: Socket
  readonly timer: NodeJS.Timeout
}

/** What a {@link TcpAllocation} needs from the relay that owns it. */
export interface TcpAllocationHost {
  /** A fresh CONNECTION-ID for `pending` (registered so a ConnectionBind finds it). */
  register(make: (id: number) => PendingConnection): PendingConnection
  unregister(pending: PendingConnection): void
  /** A peer connected and is permitted: tell the client (ConnectionAttempt). */
  announce(pending: PendingConnection): void
  readonly bindTimeoutMs: number
  readonly maxPending: number
  readonly maxConnections: number
  readonly permissionLifetimeMs: number
  readonly stats: {
    tcpRefusedPeers: number
    tcpUnboundTimeouts: number
    tcpSpliced: number
    tcpFused: number
  }
  /** The server's spliced pairs, to find both ends of a connection it made to itself. */
  readonly hairpins: Hairpins
}

/** How long a spliced side may flush after the other closed cleanly. */
const LINGER_MS = 10_000

const key = (e: Endpoint) => `${e.host}|${e.port}`

/**
 * A TCP allocation: the relayed listener peers connect to, the permissions, the peer
 * connections waiting for a ConnectionBind (bounded, each closed after the bind timeout),
 * and the spliced pairs. Removing it closes the listener and every connection it relays.
 */
export class TcpAllocation {
  readonly username: string
  readonly control: Socket
  readonly relayed: Endpoint
  /** The relayed family: only peers of it are permitted or connected to. */
  readonly family: 4 | 6
  readonly #listener: Server
  readonly #host: TcpAllocationHost
  expiresAt: number
  /** peer IP → expiry (ms) */
  readonly permissions = new Map<string, number>()
  readonly #pending = new Set<PendingConnection>()
  /** Peer endpoints with a pending or live connection (Connect answers 446 for them). */
  readonly #peers = new Set<string>()
  readonly #live = new Set<Socket>()
  #closed = false

  constructor(
    username: string,
    control: Socket,
    listener: Server,
    relayed: Endpoint,
    lifetimeSec: number,
    host: TcpAllocationHost,
  ) {
    this.username = username
    this.control = control
    this.#listener = listener
    this.relayed = relayed
    this.family = ipFamily(relayed.host) === 6 ? 6 : 4
    this.#host = host
    this.expiresAt = Date.now() + lifetimeSec * 1000
    listener.on('connection', (s) => this.#onPeerConnection(s))
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Pending plus spliced connections. */
  get connectionCount(): number {
    return this.#pending.size + this.#live.size / 2
  }

  permitted(ip: string): boolean {
    const until = this.permissions.get(ip)
    return until !== undefined && until > Date.now()
  }

  permit(ip: string): void {
    this.permissions.set(ip, Date.now() + this.#host.permissionLifetimeMs)
  }

  /** Whether a Connect to `peer` may start: 446 for a known peer, 508 when full. */
  mayConnect(peer: Endpoint): 0 | 446 | 508 {
    if (this.#peers.has(key(peer))) return 446
    if (this.#pending.size >= this.#host.maxPending) return 508
    if (this.connectionCount >= this.#host.maxConnections) return 508
    return 0
  }

  /**
   * Connect (RFC 6062 §5.2): dials `peer` from the relayed IP, within `timeoutMs`. Resolves
   * with the pending connection (its CONNECTION-ID goes into the response), rejects with
   * `TURN_SOCKET` (answered 447).
   */
  async connect(peer: Endpoint, timeoutMs: number): Promise<PendingConnection> {
    const k = key(peer)
    this.#peers.add(k)
    let socket: Socket
    try {
      socket = await dial(peer, this.relayed.host, timeoutMs)
    } catch (err) {
      this.#peers.delete(k)
      throw err
    }
    if (this.#closed) {
      this.#peers.delete(k)
      socket.destroy()
      throw new TurnError('TURN_CLOSED', 'allocation removed')
    }
    return this.#park(socket, peer)
  }

  #onPeerConnection(socket: Socket): void {
    const peer = { host: normalize(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 }
    if (
      this.#closed ||
      !this.permitted(peer.host) ||
      this.#pending.size >= this.#host.maxPending ||
      this.connectionCount >= this.#host.maxConnections
    ) {
      this.#host.stats.tcpRefusedPeers++
      socket.destroy()
      return
    }
    this.#peers.add(key(peer))
    this.#host.announce(this.#park(socket, peer))
  }

  /** Holds the peer's bytes (paused) until the client binds a data connection to it. */
  #park(socket: Socket, peer: Endpoint): PendingConnection {
    socket.pause()
    socket.setNoDelay(true)
    socket.on('error', () => {})
    const pending = this.#host.register((id) => ({
      id,
      allocation: this,
      peer,
      socket,
      timer: setTimeout(() => {
        this.#host.stats.tcpUnboundTimeouts++
        this.#drop(pending)
      }, this.#host.bindTimeoutMs),
    }))
    pending.timer.unref()
    this.#pending.add(pending)
    socket.once('close', () => this.#drop(pending))
    return pending
  }

  #drop(pending: PendingConnection): void {
    if (!this.#pending.delete(pending)) return
    clearTimeout(pending.timer)
    this.#host.unregister(pending)
    this.#peers.delete(key(pending.peer))
    pending.socket.destroy()
  }

  /**
   * ConnectionBind succeeded: splices the data connection and the peer connection, both
   * ways, with the streams' own backpressure (`pipe`); either side closing closes both.
   * When the peer connection's other end is a spliced pair of this same server (a relayed
   * address connected to another one here), the two data connections are fused instead.
   * With a `pump` (the data connection's reads in a buffer of its own), the data → peer way
   * goes through it instead of `pipe`; the peer connection gets one too when it can.
   */
  splice(pending: PendingConnection, data: Socket, leftover: Buffer, pump?: Pump): void {
    this.#pending.delete(pending)
    clearTimeout(pending.timer)
    this.#host.unregister(pending)
    const partner = this.#host.hairpins.partner(pending.socket)
    // The peer → data way too goes through a buffer of its own, unless the pair fuses (its
    // peer connection then only carries what is inside and the FIN, through `pipe`).
    const back = partner ? undefined : Pump.adopt(pending.socket)
    const peer = back?.socket ?? pending.socket
    const k = key(pending.peer)
    const pair = { peer, data, ...(pump ? { pump } : {}) }
    this.#live.add(peer)
    this.#live.add(data)
    this.#host.stats.tcpSpliced++
    let open = 2
    const closed = (other: Socket) => (hadError: boolean) => {
      // A clean close lets the other side flush what it still holds; an error cuts both.
      if (hadError) other.destroy()
      else {
        other.end()
        setTimeout(() => other.destroy(), LINGER_MS).unref()
      }
      if (--open > 0) return
      this.#live.delete(peer)
      this.#live.delete(data)
      this.#peers.delete(k)
      this.#host.hairpins.delete(pair)
    }
    peer.once('close', closed(data))
    data.once('close', closed(peer))
    peer.on('error', () => {})
    data.on('error', () => {})
    this.#host.hairpins.add(pair)
    // A data connection ending always ends its own peer connection (fused or not).
    if (pump) data.once('end', () => peer.end())
    if (partner) {
      this.#host.stats.tcpFused++
      fuse(partner, pair, leftover)
      return
    }
    if (leftover.length > 0) peer.write(leftover)
    if (back) {
      back.socket.once('end', () => data.end())
      back.to(data)
    } else peer.pipe(data)
    if (pump) pump.to(peer)
    else data.pipe(peer)
  }

  /** Closes the listener and every pending and spliced connection. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#listener.close()
    for (const p of [...this.#pending]) this.#drop(p)
    for (const s of [...this.#live]) s.destroy()
    this.#live.clear()
  }

  /** Drops expired permissions. */
  sweep(now: number): void {
    for (const [ip, until] of this.permissions) if (until <= now) this.permissions.delete(ip)
  }
}

/** Strips the IPv4-mapped prefix Node gives IPv4 peers on dual-stack sockets. */
function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}

function dial(peer: Endpoint, localAddress: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: peer.host, port: peer.port, localAddress, allowHalfOpen: true })
    const fail = (err: Error) => {
      clearTimeout(timer)
      s.destroy()
      reject(
        new TurnError(
          'TURN_SOCKET',
          `cannot connect to ${peer.host}:${peer.port}: ${err.message}`,
          {
            cause: err,
          },
        ),
      )
    }
    const timer = setTimeout(() => fail(new Error('timed out')), timeoutMs)
    s.once('error', fail)
    s.once('connect', () => {
      clearTimeout(timer)
      s.off('error', fail)
      resolve(s)
    })
  })
}

/** Binds a relayed TCP listener on `host`: any free port, or one of `range`. */
export async function listenRelay(
  host: string,
  range: readonly [number, number] | undefined,
): Promise<Server> {
  if (!range) return listenOn(host, 0)
  const [min, max] = range
  const span = max - min + 1
  const start = randomInt(span)
  for (let i = 0; i < span; i++) {
    try {
      return await listenOn(host, min + ((start + i) % span))
    } catch {
      // taken: the next port of the range
    }
  }
  throw new TurnError('TURN_CAPACITY', 'relay port range exhausted')
}

/** A TCP listener on `host:port` (`allowHalfOpen`: the relay forwards each direction's FIN). */
export function listenOn(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true })
    server.once('error', (err) => {
      server.close()
      reject(
        new TurnError('TURN_SOCKET', `cannot listen on ${host}:${port}: ${err.message}`, {
          cause: err,
        }),
      )
    })
    server.listen({ host, port, exclusive: true }, () => {
      server.removeAllListeners('error')
      server.on('error', () => {})
      resolve(server)
    })
  })
}
