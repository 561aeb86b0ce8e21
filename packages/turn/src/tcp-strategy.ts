import {
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
import {
  acceptRelayed,
  connectRelayed,
  type OffererPermits,
  permitOfferer,
  reflexiveOf,
} from './tcp-one-hop.js'
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

/**
 * Offerer over TCP relays: allocate (TCP), offer our relayed address and our reflexive IP,
 * and once the answer names the peer's relayed address, connect to it: straight from this
 * host when the answerer permitted our reflexive IP (one hop through its server), else — or
 * when that fails — through our allocation (Connect + ConnectionBind: two hops when both
 * allocations are on one server). The stream starts with the 4-byte conversation id, so
 * the answerer knows it is ours. Throws `TURN_UNSUPPORTED_TRANSPORT` when the answerer
 * cannot relay over TCP (fall back).
 *
 * Our allocation stays even when the one hop carries the stream: it is what told us our
 * reflexive IP, the fallback needs it, and the stream is tied to it (closing the stream
 * deallocates; losing it — with one server for both peers, the server is gone — fails the
 * stream as `TURN_RELAY_LOST`).
 */
export async function connectTcp(
  ctx: StrategyContext,
  init: TurnInit,
  client: TurnTcpClient,
  signal: AbortSignal,
  parseEndpoint: (v: unknown) => Endpoint,
): Promise<RawConnection> {
  const reflexive = reflexiveOf(client)
  const { id, answer: body } = await offerRelay(ctx, client.relayed, 'tcp', signal, reflexive)
  if (body.error !== undefined || body.transport !== 'tcp') {
    // A peer without TCP relays (or an older one that answered over UDP): the caller falls back.
    throw new TurnError(
      'TURN_UNSUPPORTED_TRANSPORT',
      `peer has no TCP relay: ${String(body.error ?? 'answered over UDP')}`,
    )
  }
  const peer = parseEndpoint(body.relayed)
  // An older answerer says nothing: it neither permits our reflexive IP nor echoes the id.
  const oneHop = body.oneHop === true && reflexive !== undefined
  const localAddress = init.client?.localAddress
  const { socket, path, oneHopError } = await connectRelayed(client, peer, id, {
    oneHop,
    echo: oneHop,
    signal,
    ...(init.client?.timeoutMs !== undefined ? { timeoutMs: init.client.timeoutMs } : {}),
    echoTimeoutMs: TCP_OPEN_TIMEOUT_MS,
    ...(localAddress !== undefined ? { localAddress } : {}),
  })
  const to = `${peer.host}:${peer.port}`
  if (path === 'one-hop') {
    ctx.log(`turn: relaying over TCP to ${to}, one hop (from ${reflexive} as the server sees us)`)
  } else {
    const why = oneHopError
      ? `one hop failed: ${oneHopError.message}`
      : 'the peer did not permit our reflexive IP'
    ctx.log(`turn: relaying over TCP to ${to} through our allocation (${why})`)
  }
  return {
    stream: new RelayedTcpStream(socket, client),
    // A relayed pipe is known by its relayed addresses on both ends, whichever way the bytes
    // reach the far one (the log says which): what the node reports and the lab checks.
    local: { host: client.relayed.host, port: client.relayed.port },
    remote: peer,
    relayed: true,
    initiator: true,
  }
}

/**
 * Answerer over TCP relays: allocate (TCP), permit the offerer's relay (and its reflexive IP,
 * for the one hop), answer with our relayed address, and wait for the offerer's connection
 * that starts with the conversation id (echoed when the one hop is on). When we cannot
 * allocate over TCP, answer `fallback: true` (the offerer retries over UDP relays) and
 * return undefined.
 */
export async function acceptTcp(
  ctx: StrategyContext,
  init: TurnInit,
  signal: AbortSignal,
  offer: { id: number; relayed: Endpoint; reflexive?: string | undefined },
): Promise<RawConnection | undefined> {
  const to = { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal }
  const { id, relayed: peer } = offer
  let client: TurnTcpClient
  let permits: OffererPermits
  try {
    if (init.tcp === false) throw new TurnError('TURN_UNSUPPORTED_TRANSPORT', 'TCP relays are off')
    client = await allocateTcp(init, signal)
    if (!keepTcp(ctx, init, client)) {
      await client.close()
      throw new TurnError('TURN_UNSUPPORTED_TRANSPORT', 'TCP relay capped; UDP relays instead')
    }
    try {
      permits = await permitOfferer(client, peer, offer.reflexive, signal)
    } catch (err) {
      await client.close()
      throw err
    }
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
  if (permits.error) {
    ctx.log(`turn: cannot permit the offerer's IP ${offer.reflexive} (${permits.error.message})`)
  }
  try {
    const arrived = withDeadline(
      TCP_OPEN_TIMEOUT_MS,
      signal,
      (s) => acceptRelayed(client, permits.hosts, id, s, permits.oneHop),
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
          ...(permits.oneHop ? { oneHop: true } : {}),
        } satisfies TurnAnswer,
      },
      { signal },
    )
    ctx.log(
      `turn: answered with TCP relay ${client.relayed.host}:${client.relayed.port}${permits.oneHop ? ' (one hop permitted)' : ''}`,
    )
    const { socket, from } = await arrived
    ctx.log(`turn: relayed TCP connection from ${from.host}:${from.port}`)
    return {
      stream: new RelayedTcpStream(socket, client),
      local: { host: client.relayed.host, port: client.relayed.port },
      // The offerer's relayed address, as on its side (the connection may come from its host:
      // the one hop; `from` is in the log).
      remote: peer,
      relayed: true,
      initiator: false,
    }
  } catch (err) {
    await client.close()
    throw err
  }
}
