/**
 * The relayed TCP connection between two peers' TCP allocations (RFC 6062), shared by the
 * strategy and the benchmark.
 *
 * Through the offerer's allocation (Connect + ConnectionBind to the answerer's relayed
 * address), a server relays every byte twice: into the offerer's relayed socket, out of it
 * to its own other relayed address, out of that one to the answerer's data connection.
 * coturn does both copies with small reads and fixed 64 KiB socket buffers. One hop instead:
 * the offerer's host dials the answerer's relayed address itself, like any TCP peer, and the
 * server copies each byte once (peer connection → data connection). That needs the answerer
 * to permit the offerer's IP as the server sees it (its XOR-MAPPED-ADDRESS), and the offerer
 * to know the far end took the connection: a server drops a connection from an IP without
 * permission only after accepting it, so the answerer echoes the 4-byte conversation id.
 */
import type { Socket } from 'node:net'
import { abortReason, Deadline, type Endpoint, withDeadline } from '@p2pd/interface'
import { ipFamily } from '@p2pd/stun'
import { dialServer } from './client/data-connection.js'
import type { TurnTcpClient } from './client/tcp-client.js'
import { TurnError } from './errors.js'

/** Shortest deadline of the one-hop attempt (dial, id, echo), ms: a loaded machine's slack. */
export const ONE_HOP_MIN_MS = 1000
/** Longest: what a peer that cannot take the one hop may lose before the fallback, ms. */
export const ONE_HOP_MAX_MS = 2000

/**
 * Deadline of the one-hop attempt: 8 round trips of our Allocate exchange (the echo takes
 * the answerer's ConnectionBind and a round trip each side), within
 * {@link ONE_HOP_MIN_MS}..{@link ONE_HOP_MAX_MS}; the most without a measured round trip.
 */
export function oneHopTimeoutMs(allocateRttMs: number | undefined): number {
  if (allocateRttMs === undefined) return ONE_HOP_MAX_MS
  return Math.min(ONE_HOP_MAX_MS, Math.max(ONE_HOP_MIN_MS, 8 * allocateRttMs))
}

/**
 * For the sockets handed out here: a reset (the server refusing a one hop, a peer gone) must
 * not go unhandled; it shows as the socket's close, which readExactly and RelayedTcpStream
 * act on.
 */
const ignore = () => {}

/** The 4 bytes that start a relayed TCP stream: the conversation id, big-endian. */
export function idBytes(id: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(id, 0)
  return b
}

/** Options of {@link connectRelayed}. */
export interface ConnectRelayedOptions {
  /** Try the one hop first (the answerer permitted our reflexive IP and echoes the id). */
  readonly oneHop: boolean
  /** The answerer echoes the id on whichever connection it takes (read before returning). */
  readonly echo: boolean
  readonly signal: AbortSignal
  /** Deadline of the fallback's Connect + ConnectionBind (default 10 s). */
  readonly timeoutMs?: number
  /** Deadline of the echo after the fallback's bind (default 15 s). */
  readonly echoTimeoutMs?: number
  /** Local IP to dial the one hop from (ignored when of the other family). */
  readonly localAddress?: string
}

/** The offerer's end of the relayed stream, and which way it goes. */
export interface RelayedConnection {
  readonly socket: Socket
  /** `'one-hop'`: our host straight to `peer` through its server; else through our allocation. */
  readonly path: 'one-hop' | 'allocation'
  /** Why the one hop was not taken (tried and failed), for the log. */
  readonly oneHopError?: Error
}

/**
 * Offerer: the relayed stream to `peer` (the answerer's relayed address), its id written
 * (and, with `echo`, the answerer's echo read). One hop first when `oneHop` (bounded by
 * {@link oneHopTimeoutMs}); on any failure of it, Connect through `client` (our allocation,
 * permitted to `peer`'s IP here). An echo just after the deadline is lost with its
 * connection: the answerer took that one and drops the next, so the fallback fails too and
 * the strategy goes on to the UDP relays — hence a deadline of several round trips.
 */
export async function connectRelayed(
  client: TurnTcpClient,
  peer: Endpoint,
  id: number,
  opts: ConnectRelayedOptions,
): Promise<RelayedConnection> {
  let oneHopError: Error | undefined
  if (opts.oneHop) {
    try {
      const socket = await withDeadline(
        oneHopTimeoutMs(client.allocateRttMs),
        opts.signal,
        (signal) => dialOneHop(peer, id, signal, opts.localAddress),
        `TURN TCP one hop to ${peer.host}:${peer.port}`,
      )
      return { socket, path: 'one-hop' }
    } catch (err) {
      if (opts.signal.aborted) throw err
      oneHopError = err as Error
    }
  }
  await client.createPermission(peer, { signal: opts.signal })
  const socket = await client.connect(peer, {
    signal: opts.signal,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  })
  const echo = opts.echo ? { timeoutMs: opts.echoTimeoutMs ?? 15_000 } : undefined
  await introduce(socket, id, opts.signal, echo)
  return { socket, path: 'allocation', ...(oneHopError ? { oneHopError } : {}) }
}

/** Our host → `peer` (a relayed address), the id written and echoed back, under `signal`. */
async function dialOneHop(
  peer: Endpoint,
  id: number,
  signal: AbortSignal,
  localAddress: string | undefined,
): Promise<Socket> {
  const from =
    localAddress !== undefined && ipFamily(localAddress) === ipFamily(peer.host)
      ? { localAddress }
      : {}
  const socket = await dialServer({ server: peer, transport: 'tcp', ...from }, signal)
  await introduce(socket, id, signal, {})
  return socket
}

/**
 * Starts a relayed stream: writes the id and, with `echo`, waits for the far end to write it
 * back (within `echo.timeoutMs`, else only `signal`). On failure the socket is destroyed.
 */
async function introduce(
  socket: Socket,
  id: number,
  signal: AbortSignal,
  echo: { readonly timeoutMs?: number } | undefined,
): Promise<void> {
  socket.on('error', ignore)
  try {
    socket.write(idBytes(id))
    if (echo) await readEcho(socket, id, signal, echo.timeoutMs)
  } catch (err) {
    socket.destroy()
    throw err
  }
}

async function readEcho(socket: Socket, id: number, signal: AbortSignal, timeoutMs?: number) {
  const deadline = new Deadline(timeoutMs ?? Number.POSITIVE_INFINITY, signal, 'TURN TCP id echo')
  try {
    const head = await readExactly(socket, 4, deadline.signal)
    if (!head.equals(idBytes(id))) {
      throw new TurnError('TURN_SOCKET', 'relayed connection answered with another id')
    }
  } finally {
    deadline.dispose()
  }
}

/**
 * The offerer's reflexive IP to offer: what its server saw (`client.mapped`), when of the
 * relayed family (the one hop dials the answerer's relayed address from that family).
 */
export function reflexiveOf(client: TurnTcpClient): string | undefined {
  const mapped = client.mapped
  if (mapped === undefined || ipFamily(mapped.host) !== ipFamily(client.relayed.host)) return
  return mapped.host
}

/** What the answerer permitted for the offerer (see {@link permitOfferer}). */
export interface OffererPermits {
  /** The IPs its connection may come from. */
  readonly hosts: readonly string[]
  /** The reflexive IP is permitted: the offerer may take the one hop (and we echo the id). */
  readonly oneHop: boolean
  /** Why the reflexive IP could not be permitted. */
  readonly error?: Error
}

/**
 * Answerer: permits the offerer's relayed IP (its path through its allocation) and, given
 * one of our relayed family, its reflexive IP (the one hop), in parallel. The first failing
 * fails; the reflexive one failing only turns the one hop off.
 */
export async function permitOfferer(
  client: TurnTcpClient,
  relayed: Endpoint,
  reflexive: string | undefined,
  signal: AbortSignal,
): Promise<OffererPermits> {
  const viaAllocation = client.createPermission(relayed, { signal })
  if (reflexive === undefined || ipFamily(reflexive) !== ipFamily(client.relayed.host)) {
    await viaAllocation
    return { hosts: [relayed.host], oneHop: false }
  }
  if (reflexive === relayed.host) {
    await viaAllocation
    return { hosts: [relayed.host], oneHop: true }
  }
  viaAllocation.catch(() => {})
  const direct = client.createPermission({ host: reflexive, port: 0 }, { signal }).then(
    () => undefined,
    (err: Error) => err,
  )
  await viaAllocation
  const error = await direct
  if (error) return { hosts: [relayed.host], oneHop: false, error }
  return { hosts: [relayed.host, reflexive], oneHop: true }
}

/**
 * Answerer: the first connection to `client`'s relayed address from one of `hosts` (the
 * IPs we permitted for the offerer) whose stream starts with `id`; others are closed. With
 * `echo`, the id is written back on it.
 */
export function acceptRelayed(
  client: TurnTcpClient,
  hosts: readonly string[],
  id: number,
  signal: AbortSignal,
  echo: boolean,
): Promise<{ socket: Socket; from: Endpoint }> {
  const want = idBytes(id)
  return new Promise((resolve, reject) => {
    const done = () => {
      client.off('connection', onConnection)
      signal.removeEventListener('abort', onAbort)
    }
    const onAbort = () => {
      done()
      reject(abortReason(signal))
    }
    const onConnection = (socket: Socket, from: Endpoint) => {
      if (!hosts.includes(from.host)) return void socket.destroy()
      socket.on('error', ignore)
      readExactly(socket, 4, signal).then(
        (head) => {
          if (!head.equals(want) || signal.aborted) return void socket.destroy()
          done()
          if (echo) socket.write(want)
          resolve({ socket, from })
        },
        () => socket.destroy(),
      )
    }
    client.on('connection', onConnection)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The first `n` bytes of `socket`, leaving the rest unread (pulled with `read()`, never
 * `pause()`, so the next reader starts the socket by listening to `'data'`). The socket
 * ending first is `TURN_SOCKET`.
 */
export function readExactly(socket: Socket, n: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    let got: Buffer = Buffer.alloc(0)
    const finish = () => {
      socket.off('readable', onReadable)
      socket.off('end', onClose)
      socket.off('close', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const onAbort = () => {
      finish()
      reject(abortReason(signal))
    }
    const onClose = () => {
      finish()
      reject(new TurnError('TURN_SOCKET', 'relayed connection closed before its id'))
    }
    const onReadable = () => {
      for (let c = socket.read() as Buffer | null; c; c = socket.read()) {
        got = got.length === 0 ? c : Buffer.concat([got, c])
        if (got.length < n) continue
        finish()
        if (got.length > n) socket.unshift(got.subarray(n))
        resolve(got.subarray(0, n))
        return
      }
    }
    socket.on('readable', onReadable)
    socket.once('end', onClose)
    socket.once('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
