import { once } from 'node:events'
import type { Endpoint } from '@p2pd/interface'
import type { TurnClient } from '../src/index.js'

/** Next datagram `client` receives (as 'data'), within `ms`. */
export async function nextData(client: TurnClient, ms = 3000): Promise<[Buffer, Endpoint]> {
  const signal = AbortSignal.timeout(ms)
  return (await once(client, 'data', { signal })) as [Buffer, Endpoint]
}

/** Both clients permit each other's relayed address, then exchange a datagram each way. */
export async function roundTrip(
  a: TurnClient,
  b: TurnClient,
  mode: 'channel' | 'indication',
): Promise<void> {
  if (mode === 'channel') {
    await Promise.all([a.bindChannel(b.relayed), b.bindChannel(a.relayed)])
  } else {
    await Promise.all([a.createPermission(b.relayed), b.createPermission(a.relayed)])
  }
  const atB = nextData(b)
  a.send(Buffer.from('ping'), b.relayed)
  const [d1, from1] = await atB
  if (d1.toString() !== 'ping') throw new Error(`b got ${d1}`)
  if (from1.port !== a.relayed.port) throw new Error('b: wrong source')
  const atA = nextData(a)
  b.send(Buffer.from('pong'), a.relayed)
  const [d2] = await atA
  if (d2.toString() !== 'pong') throw new Error(`a got ${d2}`)
}
