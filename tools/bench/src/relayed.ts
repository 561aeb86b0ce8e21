// Relayed vs direct, in one process so every path shares the machine state: a p2pd pipe (secure
// channel) over plain TCP, and over TURN through our TurnServer and through coturn, each both
// ways @p2pd/turn's strategy builds it: a TCP allocation (RFC 6062: Connect + ConnectionBind,
// kernel TCP on both legs; tried first) and a UDP allocation with a channel and the reliable
// stream (the fallback).
//   relayed.ts <quick|full> <round>   prints {"direct": MB/s, "turnserver-tcp": MB/s, …}
import { once } from 'node:events'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '../../../packages/identity/src/index.js'
import type { Endpoint } from '../../../packages/interface/src/index.js'
import {
  RelayedTcpStream,
  ReliableStream,
  TurnClient,
  TurnServer,
  type TurnServerConfig,
  TurnTcpClient,
} from '../../../packages/turn/src/index.js'
import { startCoturn } from '../../testkit/src/coturn.js'
import { tcpDial, tcpListen } from './impl/raw.js'

const RELAY_PATHS = ['direct', 'turnserver-tcp', 'coturn-tcp', 'turnserver', 'coturn'] as const
type RelayPath = (typeof RELAY_PATHS)[number]

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

/** Both peers allocate TCP relays; one connects through its server to the other's relay. */
async function relayedTcp(config: TurnServerConfig): Promise<number> {
  const [ca, cb] = await Promise.all([
    TurnTcpClient.allocate(config),
    TurnTcpClient.allocate(config),
  ])
  try {
    const relayedA = { host: ca.relayed.host, port: ca.relayed.port }
    const relayedB = { host: cb.relayed.host, port: cb.relayed.port }
    await Promise.all([ca.createPermission(relayedB), cb.createPermission(relayedA)])
    const inbound = once(cb, 'connection') as Promise<[Socket, Endpoint]>
    const sa = await ca.connect(relayedB)
    const [sb] = await inbound
    const [pa, pb] = await securePair(new RelayedTcpStream(sa, ca), new RelayedTcpStream(sb, cb))
    const rate = await transfer(pa, pb)
    pa.destroy()
    pb.destroy()
    return rate
  } finally {
    await Promise.all([ca.close(), cb.close()])
  }
}

const coturn = await startCoturn()
const ours = new TurnServer({ users: { bench: 'bench' }, allowLoopbackPeers: true })
await ours.start()
const oursConfig = { ...ours.address, username: 'bench', password: 'bench' }
const coturnConfig = {
  host: coturn.host,
  port: coturn.port,
  username: coturn.user,
  password: coturn.password,
}
const runs: Record<RelayPath, () => Promise<number>> = {
  direct,
  'turnserver-tcp': () => relayedTcp(oursConfig),
  'coturn-tcp': () => relayedTcp(coturnConfig),
  turnserver: () => relayed(oursConfig),
  coturn: () => relayed(coturnConfig),
}
const result: Partial<Record<RelayPath, number | undefined>> = {}
try {
  // Rotated per round, like the side-by-side metrics.
  const shift = Number(round ?? 0) % RELAY_PATHS.length
  for (const path of [...RELAY_PATHS.slice(shift), ...RELAY_PATHS.slice(0, shift)]) {
    // One path failing (say, a server refusing TCP allocations) leaves the others' figures.
    result[path] = await runs[path]().catch((err: Error) => {
      process.stderr.write(`relayed ${path}: ${err.message}\n`)
      return undefined
    })
  }
} finally {
  await ours.close()
  await coturn.stop()
}
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
