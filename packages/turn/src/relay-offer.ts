import { randomBytes } from 'node:crypto'
import { type Endpoint, type StrategyContext, waitForSignal } from '@p2pd/interface'
import type { TurnAnswer, TurnOffer } from './strategy.js'

/**
 * The offerer's half of the relay exchange, the same for UDP and TCP relays: picks a fresh
 * conversation id, publishes a `turn/offer` naming our relayed address (and, over TCP, our
 * reflexive IP when known), and waits for the peer's `turn/answer` to that id.
 */
export async function offerRelay(
  ctx: StrategyContext,
  relayed: Endpoint,
  transport: 'tcp' | undefined,
  signal: AbortSignal,
  reflexive?: string,
): Promise<{ id: number; answer: TurnAnswer }> {
  const id = randomBytes(4).readUInt32BE(0)
  const answered = waitForSignal(
    ctx.signaling,
    (m) =>
      m.from === ctx.remote.nodeId &&
      m.message.type === 'turn/answer' &&
      (m.message.body as { id?: unknown } | null)?.id === id,
    signal,
  )
  // Armed before publishing; if publishing fails we never await it, so mark it handled.
  answered.catch(() => {})
  await ctx.signaling.publish(
    { nodeId: ctx.remote.nodeId, signal: ctx.remote.signal },
    {
      type: 'turn/offer',
      body: {
        address: ctx.localText,
        relayed: { host: relayed.host, port: relayed.port },
        id,
        ...(transport ? { transport } : {}),
        ...(reflexive !== undefined ? { reflexive } : {}),
      } satisfies TurnOffer,
    },
    { signal },
  )
  ctx.log(`turn: offered ${transport === 'tcp' ? 'TCP ' : ''}relay ${relayed.host}:${relayed.port}`)
  return { id, answer: (await answered).message.body as TurnAnswer }
}
