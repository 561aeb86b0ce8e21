import type { Socket } from 'node:net'
import {
  abortReason,
  type Endpoint,
  type RawConnection,
  type StrategyContext,
  withDeadline,
} from '@p2pd/interface'
import { TurnTcpClient } from './client/tcp-client.js'
import { TurnError } from './errors.js'
import { keepTcp } from './relay-choice.js'
import { offerRelay } from './relay-offer.js'
import type { TurnAnswer, TurnInit } from './strategy.js'
import { RelayedTcpStream } from './tcp-stream.js'

/** Until the far relay's connection arrives on ours (the far side is still connecting), ms. */
const TCP_OPEN_TIMEOUT_MS = 15_000
/** Deadline of a TCP allocation: past it, the UDP relay is tried instead (ms). */
const TCP_ALLOCATE_TIMEOUT_MS = 5000

/**
 * A TCP allocation on the first server that grants one. Every server refusing (442), TCP to
 * them failing, or the deadline: the last error, which the caller takes as "fall back to UDP".
 */
export async function allocateTcp(init: TurnInit, signal: AbortSignal): Promise<TurnTcpClient> {
  let last: unknown
  for (const server of init.servers) {
    try {
      return await TurnTcpClient.allocate(server, {
        ...init.client,
        timeoutMs: Math.min(init.client?.timeoutMs ?? 10_000, TCP_ALLOCATE_TIMEOUT_MS),
        signal,
      })
    } catch (err) {
      if (signal.aborted) throw err
      last = err
    }
  }
  throw last ?? new TurnError('TURN_BAD_INPUT', 'no TURN server configured')
}

function idBytes(id: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(id, 0)
  return b
}

/**
 * Offerer over TCP relays: allocate (TCP), offer our relayed address, and once the answer
 * names the peer's relayed address, have our server connect to it (Connect + ConnectionBind).
 * The stream starts with the 4-byte conversation id, so the answerer knows it is ours.
 * Throws `TURN_UNSUPPORTED_TRANSPORT` when the answerer cannot relay over TCP (fall back).
 */
export async function connectTcp(
  ctx: StrategyContext,
  init: TurnInit,
  client: TurnTcpClient,
  signal: AbortSignal,
  parseEndpoint: (v: unknown) => Endpoint,
): Promise<RawConnection> {
  const { id, answer: body } = await offerRelay(ctx, client.relayed, 'tcp', signal)
  if (body.error !== undefined || body.transport !== 'tcp') {
    // A peer without TCP relays (or an older one that answered over UDP): the caller falls back.
    throw new TurnError(
      'TURN_UNSUPPORTED_TRANSPORT',
      `peer has no TCP relay: ${String(body.error ?? 'answered over UDP')}`,
    )
  }
  const peer = parseEndpoint(body.relayed)
  await client.createPermission(peer, { signal })
  const socket = await client.connect(peer, {
    signal,
    ...(init.client?.timeoutMs !== undefined ? { timeoutMs: init.client.timeoutMs } : {}),
  })
  socket.write(idBytes(id))
  ctx.log(`turn: relaying over TCP to ${peer.host}:${peer.port}`)
  return {
    stream: new RelayedTcpStream(socket, client),
    local: { host: client.relayed.host, port: client.relayed.port },
    remote: peer,
    relayed: true,
    initiator: true,
  }
}

/**
 * Answerer over TCP relays: allocate (TCP), permit the offerer's relay, answer with our
 * relayed address, and wait for the connection from the offerer's relay that starts with
 * the conversation id. When we cannot allocate over TCP, answer `fallback: true` (the
 * offerer retries over UDP relays) and return undefined.
 */
export async function acceptTcp(
  ctx: StrategyContext,
  init: TurnInit,
  signal: AbortSignal,
  offer: { id: number; relayed: Endpoint },
): Promise<RawConnection | undefined> {
  const to = { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal }
  const { id, relayed: peer } = offer
  let client: TurnTcpClient
  try {
    if (init.tcp === false) throw new TurnError('TURN_UNSUPPORTED_TRANSPORT', 'TCP relays are off')
    client = await allocateTcp(init, signal)
    if (!keepTcp(ctx, init, client)) {
      await client.close()
      throw new TurnError('TURN_UNSUPPORTED_TRANSPORT', 'TCP relay capped; UDP relays instead')
    }
    await client.createPermission(peer, { signal })
  } catch (err) {
    if (signal.aborted) throw err
    await ctx.signaling
      .publish(
        to,
        {
          type: 'turn/answer',
          body: { id, error: (err as Error).message, fallback: true } satisfies TurnAnswer,
        },
        { signal },
      )
      .catch(() => {})
    ctx.log(`turn: no TCP relay (${(err as Error).message}); the offerer falls back to UDP`)
    return undefined
  }
  try {
    const arrived = withDeadline(
      TCP_OPEN_TIMEOUT_MS,
      signal,
      (s) => ourConnection(client, peer, id, s),
      'TURN TCP relay: waiting for the peer',
    )
    arrived.catch(() => {})
    await ctx.signaling.publish(
      to,
      {
        type: 'turn/answer',
        body: {
          id,
          relayed: { host: client.relayed.host, port: client.relayed.port },
          transport: 'tcp',
        } satisfies TurnAnswer,
      },
      { signal },
    )
    ctx.log(`turn: answered with TCP relay ${client.relayed.host}:${client.relayed.port}`)
    const socket = await arrived
    return {
      stream: new RelayedTcpStream(socket, client),
      local: { host: client.relayed.host, port: client.relayed.port },
      remote: peer,
      relayed: true,
      initiator: false,
    }
  } catch (err) {
    await client.close()
    throw err
  }
}

/** The first connection from `peer`'s IP whose stream starts with `id` (others are closed). */
function ourConnection(
  client: TurnTcpClient,
  peer: Endpoint,
  id: number,
  signal: AbortSignal,
): Promise<Socket> {
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
      if (from.host !== peer.host) return void socket.destroy()
      readExactly(socket, 4, signal).then(
        (head) => {
          if (!head.equals(want)) return void socket.destroy()
          done()
          resolve(socket)
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
 * `pause()`, so the next reader starts the socket by listening to `'data'`).
 */
function readExactly(socket: Socket, n: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got: Buffer = Buffer.alloc(0)
    const finish = () => {
      socket.off('readable', onReadable)
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
    socket.once('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
