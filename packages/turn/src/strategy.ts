import {
  type Endpoint,
  type InboundSignal,
  type RawConnection,
  type Strategy,
  type StrategyContext,
  TimeoutError,
} from '@p2pd/interface'
import { ipFamily } from '@p2pd/stun'
import type { TurnTcpClient } from './client/tcp-client.js'
import type { TurnClient, TurnClientOptions, TurnServerConfig } from './client/turn-client.js'
import { TurnError } from './errors.js'
import { allocateUdp, answerFamily, inFamilies, offerFamilies, withFamily } from './family.js'
import { keepTcp } from './relay-choice.js'
import { offerRelay } from './relay-offer.js'
import { ReliableStream, type ReliableStreamOptions } from './stream/reliable-stream.js'
import { acceptTcp, allocateTcp, connectTcp } from './tcp-strategy.js'

/** Body of `turn/offer`: "I am relayed here; talk to me through your relay". */
export interface TurnOffer {
  /** The offerer's peer-address text (checked by the node against the verified sender). */
  readonly address: string
  readonly relayed: Endpoint
  /** 32-bit conversation id of the reliable stream (over TCP: the stream's first 4 bytes). */
  readonly id: number
  /**
   * `'tcp'`: `relayed` is a TCP allocation (RFC 6062); answer with one, or with
   * `fallback: true` to have the offerer retry over UDP relays. Absent: UDP relays.
   */
  readonly transport?: 'tcp'
  /**
   * With `transport: 'tcp'`: the offerer's IP as its server sees it (XOR-MAPPED-ADDRESS of
   * its Allocate). The answerer permits it too, so the offerer can connect straight to the
   * answerer's relayed address: one hop through that server instead of two.
   */
  readonly reflexive?: string
}

/** Body of `turn/answer`: the answerer's relayed address, or why it could not relay. */
export interface TurnAnswer {
  readonly id: number
  readonly relayed?: Endpoint
  readonly error?: string
  /** The answer to a TCP offer: `relayed` is our TCP allocation. */
  readonly transport?: 'tcp'
  /** With `error`: no TCP relay here, offer again over UDP relays. */
  readonly fallback?: boolean
  /**
   * With `transport: 'tcp'`, to an offer with `reflexive`: that IP is permitted too, and the
   * answerer writes the conversation id back on the connection it takes (how the offerer
   * knows its one hop arrived). Absent: connect through the offerer's allocation.
   */
  readonly oneHop?: boolean
}

/** Options of {@link turn}. */
export interface TurnInit {
  /** TURN servers, tried in order; the first one that allocates is used. Nothing is built in. */
  readonly servers: readonly TurnServerConfig[]
  /** Client options (deadlines, refresh periods) for every allocation. */
  readonly client?: Omit<TurnClientOptions, 'signal'>
  /**
   * Reliable-stream tuning (segment size, buffers, RTO bounds…). Relayed streams default to
   * a keep-alive every {@link RELAY_KEEPALIVE_MS} and fail with `TURN_RELAY_LOST` after
   * {@link RELAY_IDLE_TIMEOUT_MS} without hearing the far end (`keepAliveMs`, `idleTimeoutMs`
   * override them).
   */
  readonly stream?: Omit<ReliableStreamOptions, 'conv'>
  /**
   * TCP allocations (RFC 6062): both legs are kernel TCP and the secure pipe runs on the
   * relayed byte stream itself. Default: preferred, unless the server's TCP legs have fixed
   * buffers that cap them below the UDP relay at the measured round trip (coturn farther than
   * a few ms; see `relay-choice.ts`). `true`: always preferred; `false`: UDP relays only.
   * When the server refuses them (442), TCP to it fails, or the peer has none, the UDP relay
   * with the reliable stream is used.
   */
  readonly tcp?: boolean
}

/** A relayed stream sends a keep-alive after this long without sending anything (ms). */
export const RELAY_KEEPALIVE_MS = 1000
/**
 * A relayed stream that hears nothing from the far end for this long (ms) fails with
 * `TURN_RELAY_LOST`: a dead or restarted relay shows up within this bound on both ends,
 * whether data is flowing or not. Four keep-alive periods: one lost keep-alive is no alarm.
 */
export const RELAY_IDLE_TIMEOUT_MS = 4000
/** Until the far end is first heard: it may still be binding its channel to us (ms). */
const RELAY_OPEN_TIMEOUT_MS = 15_000

/** Errors of the TCP attempt after which the UDP relay is worth trying. */
function tcpFallsBack(err: unknown): boolean {
  if (err instanceof TimeoutError) return true
  const code = (err as { code?: unknown } | null)?.code
  return (
    code === 'TURN_UNSUPPORTED_TRANSPORT' ||
    code === 'TURN_ADDRESS_FAMILY' ||
    code === 'TURN_SOCKET' ||
    code === 'TURN_ALLOCATION_LOST' ||
    code === 'TURN_CLOSED' ||
    code === 'TURN_CONNECTION_FAILED' ||
    code === 'TURN_FORBIDDEN'
  )
}

function parseEndpoint(v: unknown): Endpoint {
  const e = v as { host?: unknown; port?: unknown } | null
  if (
    typeof e?.host !== 'string' ||
    ipFamily(e.host) === 0 ||
    typeof e.port !== 'number' ||
    !Number.isInteger(e.port) ||
    e.port < 1 ||
    e.port > 65535
  ) {
    throw new TurnError('TURN_SIGNALING', 'relayed address must be an IP literal and a port')
  }
  return { host: e.host, port: e.port }
}

function parseId(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new TurnError('TURN_SIGNALING', 'turn message needs a 32-bit id')
  }
  return v
}

/**
 * The reliable stream over `client`'s allocation to `peer`; closing it deallocates. It fails
 * with `TURN_RELAY_LOST` when the allocation is lost (refresh failed, server connection
 * dropped) or when nothing comes through the relay for the idle timeout.
 */
function relayStream(
  client: TurnClient,
  peer: Endpoint,
  id: number,
  init: TurnInit,
): ReliableStream {
  const stream = new ReliableStream(client.link(peer, { closeClient: true }), {
    keepAliveMs: RELAY_KEEPALIVE_MS,
    idleTimeoutMs: RELAY_IDLE_TIMEOUT_MS,
    openTimeoutMs: RELAY_OPEN_TIMEOUT_MS,
    ...init.stream,
    conv: id,
  })
  client.once('lost', (err) =>
    stream.destroy(
      new TurnError(
        'TURN_RELAY_LOST',
        `relay allocation on ${client.server.host}:${client.server.port} lost: ${err.message}`,
        { cause: err },
      ),
    ),
  )
  return stream
}

/**
 * TURN relay strategy: both peers allocate (each on its own configured server, or a shared
 * one), exchange relayed addresses over signaling (`turn/offer`, `turn/answer`), bind a
 * channel to each other's relayed address, and run the {@link ReliableStream} between the two
 * relays. The node then runs the secure channel over it, so the relay only sees ciphertext
 * and the result is the same authenticated `Pipe` as every other strategy.
 */
export function turn(init: TurnInit): Strategy {
  async function connectUdp(ctx: StrategyContext, signal: AbortSignal): Promise<RawConnection> {
    // Relayed families (family.ts): both relays must share one.
    const client = await allocateUdp(init, offerFamilies(ctx.local, ctx.remote), ctx.local, signal)
    try {
      const { id, answer: body } = await offerRelay(ctx, client.relayed, undefined, signal)
      if (body.error !== undefined) {
        throw new TurnError('TURN_SIGNALING', `peer could not relay: ${String(body.error)}`)
      }
      const peer = parseEndpoint(body.relayed)
      await client.bindChannel(peer, { signal })
      ctx.log(`turn: relaying to ${peer.host}:${peer.port}`)
      return {
        stream: relayStream(client, peer, id, init),
        local: { host: client.relayed.host, port: client.relayed.port },
        remote: peer,
        relayed: true,
        initiator: true,
      }
    } catch (err) {
      await client.close()
      throw err
    }
  }

  return {
    name: 'turn',
    accepts: ['turn/offer'],
    canTry(_local, remote) {
      if (init.servers.length === 0) return 'no TURN server configured'
      if (remote.legacy) return 'peer id is not a key'
      return true
    },
    async connect(ctx: StrategyContext, signal: AbortSignal): Promise<RawConnection> {
      if (init.tcp !== false) {
        let tcp: TurnTcpClient | undefined
        try {
          tcp = await inFamilies(
            offerFamilies(ctx.local, ctx.remote),
            signal,
            (family) => allocateTcp(withFamily(init, family, ctx.local), signal),
            (family, next, err) =>
              ctx.log(`turn: no IPv${family} TCP relay (${err.message}); asking IPv${next}`),
          )
          if (keepTcp(ctx, init, tcp)) {
            return await connectTcp(ctx, init, tcp, signal, parseEndpoint)
          }
          await tcp.close()
          tcp = undefined
        } catch (err) {
          await tcp?.close()
          if (signal.aborted || !tcpFallsBack(err)) throw err
          ctx.log(`turn: no TCP relay (${(err as Error).message}); trying UDP relays`)
        }
      }
      return connectUdp(ctx, signal)
    },
    async accept(ctx: StrategyContext, inbound: InboundSignal, signal: AbortSignal) {
      const offer = inbound.message.body as Partial<TurnOffer> | null
      const id = parseId(offer?.id)
      const peer = parseEndpoint(offer?.relayed)
      const ours = withFamily(init, answerFamily(peer), ctx.local)
      if (offer?.transport === 'tcp') {
        // From an older offerer, or not an IP: no one hop, the rest as before.
        const r = offer.reflexive
        const reflexive = typeof r === 'string' && ipFamily(r) !== 0 ? r : undefined
        return acceptTcp(ctx, ours, signal, { id, relayed: peer, reflexive })
      }
      const to = { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal }
      let client: TurnClient | undefined
      let stream: ReliableStream | undefined
      try {
        client = await allocateUdp(ours, [answerFamily(peer)], ctx.local, signal)
        await client.bindChannel(peer, { signal })
        // The stream listens before the answer goes out: the offerer may send at once.
        stream = relayStream(client, peer, id, init)
        await ctx.signaling.publish(
          to,
          {
            type: 'turn/answer',
            body: {
              id,
              relayed: { host: client.relayed.host, port: client.relayed.port },
            } satisfies TurnAnswer,
          },
          { signal },
        )
        ctx.log(`turn: answered with relay ${client.relayed.host}:${client.relayed.port}`)
        return {
          stream,
          local: { host: client.relayed.host, port: client.relayed.port },
          remote: peer,
          relayed: true,
          initiator: false,
        }
      } catch (err) {
        stream?.destroy(err as Error)
        stream?.on('error', () => {})
        await client?.close()
        await ctx.signaling
          .publish(to, {
            type: 'turn/answer',
            body: { id, error: (err as Error).message } satisfies TurnAnswer,
          })
          .catch(() => {})
        throw err
      }
    },
  }
}
