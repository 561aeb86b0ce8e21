// Relayed vs direct, in one process so the three paths share the machine state: a p2pd pipe
// (secure channel) over plain TCP, and over TURN (allocation + channel + reliable stream, as
// @p2pd/turn's strategy builds it) through our TurnServer and through coturn.
//   relayed.ts <quick|full> <round>   prints {"direct": MB/s, "turnserver": MB/s, "coturn": MB/s}
import { once } from 'node:events'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '../../../packages/identity/src/index.js'
import {
  ReliableStream,
  TurnClient,
  TurnServer,
  type TurnServerConfig,
} from '../../../packages/turn/src/index.js'
import { startCoturn } from '../../testkit/src/coturn.js'
import { tcpDial, tcpListen } from './impl/raw.js'

export const RELAY_PATHS = ['direct', 'turnserver', 'coturn'] as const
export type RelayPath = (typeof RELAY_PATHS)[number]

const [size, round] = process.argv.slice(2)
const total = (size === 'quick' ? 2 : 32) * 1024 * 1024

async function securePair(a: Duplex, b: Duplex): Promise<[Duplex, Duplex]> {
  const ia = generateIdentity()
  const ib = generateIdentity()
  const opts = { timeoutMs: 10_000 }
  return Promise.all([
    secureChannel(a, { ...opts, identity: ia, expectedPeer: ib.nodeId, initiator: true }),
    secureChannel(b, { ...opts, identity: ib, expectedPeer: ia.nodeId, initiator: false }),
  ])
}

/** MB/s from a to b, with backpressure, until b has every byte. */
async function transfer(a: Duplex, b: Duplex): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7)
  let received = 0
  const done = new Promise<void>((resolve) => {
    b.on('data', (c: Buffer) => {
      received += c.length
      if (received >= total) resolve()
    })
  })
  const started = performance.now()
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!a.write(chunk)) await once(a, 'drain')
  }
  await done
  return total / 1e6 / ((performance.now() - started) / 1000)
}

async function direct(): Promise<number> {
  let accepted: (socket: Socket) => void = () => {}
  const inbound = new Promise<Socket>((resolve) => {
    accepted = resolve
  })
  const server = await tcpListen((socket) => accepted(socket))
  const [pa, pb] = await securePair(await tcpDial(server.port), await inbound)
  const rate = await transfer(pa, pb)
  pa.destroy()
  pb.destroy()
  await server.close()
  return rate
}

async function relayed(config: TurnServerConfig): Promise<number> {
  const [ca, cb] = await Promise.all([TurnClient.allocate(config), TurnClient.allocate(config)])
  await Promise.all([ca.bindChannel(cb.relayed), cb.bindChannel(ca.relayed)])
  const sa = new ReliableStream(ca.link(cb.relayed, { closeClient: true }), { conv: 1 })
  const sb = new ReliableStream(cb.link(ca.relayed, { closeClient: true }), { conv: 1 })
  const [pa, pb] = await securePair(sa, sb)
  const rate = await transfer(pa, pb)
  pa.destroy()
  pb.destroy()
  await Promise.all([sa.released, sb.released])
  return rate
}

const coturn = await startCoturn()
const ours = new TurnServer({ users: { bench: 'bench' }, allowLoopbackPeers: true })
await ours.start()
const runs: Record<RelayPath, () => Promise<number>> = {
  direct,
  turnserver: () => relayed({ ...ours.address, username: 'bench', password: 'bench' }),
  coturn: () =>
    relayed({
      host: coturn.host,
      port: coturn.port,
      username: coturn.user,
      password: coturn.password,
    }),
}
const result: Partial<Record<RelayPath, number>> = {}
try {
  // Rotated per round, like the side-by-side metrics.
  const shift = Number(round ?? 0) % RELAY_PATHS.length
  for (const path of [...RELAY_PATHS.slice(shift), ...RELAY_PATHS.slice(0, shift)]) {
    result[path] = await runs[path]()
  }
} finally {
  await ours.close()
  await coturn.stop()
}
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
