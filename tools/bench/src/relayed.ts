// Relayed vs direct, both ends in one process so every path shares the machine state: a p2pd
// pipe (secure channel) over plain TCP, and over TURN through our TurnServer and through coturn
// (each server in a process of its own, as it would be deployed), each both ways @p2pd/turn's
// strategy builds it: a TCP allocation (RFC 6062: the offerer's host straight to the answerer's
// relayed address, one hop through the server, kernel TCP on both legs; tried first) and a UDP
// allocation with a channel and the reliable stream (the fallback).
//   relayed.ts <quick|full> <round> [path,path…]   prints {"rate": {"direct": MB/s, …}, "cpu": {"direct":
//   CPU ms per MB, …}} — the CPU of both peers plus the relay server's (load-independent).
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { dirname, join } from 'node:path'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { generateIdentity, secureChannel } from '../../../packages/identity/src/index.js'
import { Deadline, type Endpoint } from '../../../packages/interface/src/index.js'
import {
  RelayedTcpStream,
  ReliableStream,
  TurnClient,
  type TurnServerConfig,
  TurnTcpClient,
} from '../../../packages/turn/src/index.js'
import {
  acceptRelayed,
  connectRelayed,
  permitOfferer,
  reflexiveOf,
} from '../../../packages/turn/src/tcp-one-hop.js'
import { startCoturn } from '../../testkit/src/coturn.js'
import { nodeArgs, start } from './child.js'
import { tcpDial, tcpListen } from './impl/raw.js'
import { RELAY_PATHS, type RelayPath } from './options.js'

const [size, round, only] = process.argv.slice(2)
/** The paths measured (default all); `direct` always, as the baseline. */
const paths = RELAY_PATHS.filter((p) => p === 'direct' || !only || only.split(',').includes(p))
const measured = (size === 'quick' ? 2 : 32) * 1024 * 1024
/** Bytes per transfer: `measured`, or less for the warm-up. */
let total = measured
/** Bytes sent and discarded on each pipe before its timed transfer. */
const WARM_UP_BYTES = (size === 'quick' ? 1 : 8) * 1024 * 1024

async function securePair(a: Duplex, b: Duplex): Promise<[Duplex, Duplex]> {
  const ia = generateIdentity()
  const ib = generateIdentity()
  const opts = { timeoutMs: 10_000 }
  return Promise.all([
    secureChannel(a, { ...opts, identity: ia, expectedPeer: ib.nodeId, initiator: true }),
    secureChannel(b, { ...opts, identity: ib, expectedPeer: ia.nodeId, initiator: false }),
  ])
}

interface Figures {
  /** MB/s (10^6 bytes) from a to b. */
  readonly rate: number
  /** CPU ms per MB, both peers plus the relay server (when its /proc entry is readable). */
  readonly cpu: number | undefined
}

/** The relay server of the path measured now (its CPU counts), or none for the direct pipe. */
let relayPid: number | undefined

/** CPU time of a process so far (ms; Linux /proc, 10 ms ticks), undefined when unreadable. */
function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? ticks * 10 : undefined
  } catch {
    return undefined
  }
}

/** Sends `bytes` from a to b with backpressure and resolves once b has every one of them. */
async function move(a: Duplex, b: Duplex, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 7)
  let received = 0
  let onData: (c: Buffer) => void = () => {}
  const done = new Promise<void>((resolve) => {
    onData = (c: Buffer) => {
      received += c.length
      if (received >= bytes) resolve()
    }
    b.on('data', onData)
  })
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!a.write(chunk)) await once(a, 'drain')
  }
  await done
  b.off('data', onData)
}

/**
 * MB/s from a to b and the CPU it took, on a running pipe: a discarded warm-up on this same
 * pipe first, so every path is timed past its TCP slow start, its buffers' growth and the JIT
 * of its own code (a 32 MiB transfer on a cold relayed pipe spent a third of its time there).
 */
async function transfer(a: Duplex, b: Duplex): Promise<Figures> {
  await move(a, b, WARM_UP_BYTES)
  const started = performance.now()
  const ownStart = process.cpuUsage()
  const relayStart = relayPid === undefined ? 0 : processCpuMs(relayPid)
  await move(a, b, total)
  const seconds = (performance.now() - started) / 1000
  const own = process.cpuUsage(ownStart)
  const relayEnd = relayPid === undefined ? 0 : processCpuMs(relayPid)
  const relay =
    relayStart === undefined || relayEnd === undefined ? undefined : relayEnd - relayStart
  const mb = total / 1e6
  return {
    rate: mb / seconds,
    cpu: relay === undefined ? undefined : ((own.user + own.system) / 1000 + relay) / mb,
  }
}

async function direct(): Promise<Figures> {
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

async function relayed(config: TurnServerConfig): Promise<Figures> {
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

/**
 * Both peers allocate TCP relays and connect as the strategy does (the same functions): the
 * offerer's host straight to the answerer's relayed address (one hop through the server),
 * or, when that fails, through its own allocation.
 */
async function relayedTcp(config: TurnServerConfig): Promise<Figures> {
  const [ca, cb] = await Promise.all([
    TurnTcpClient.allocate(config),
    TurnTcpClient.allocate(config),
  ])
  const deadline = new Deadline(30_000, undefined, 'relayed TCP pipe')
  try {
    const signal = deadline.signal
    const relayedA = { host: ca.relayed.host, port: ca.relayed.port }
    const relayedB = { host: cb.relayed.host, port: cb.relayed.port }
    const id = 1
    const permits = await permitOfferer(cb, relayedA, reflexiveOf(ca), signal)
    const inbound = acceptRelayed(cb, permits.hosts, id, signal, permits.oneHop)
    inbound.catch(() => {})
    const { socket: sa, path } = await connectRelayed(ca, relayedB, id, {
      oneHop: permits.oneHop,
      echo: permits.oneHop,
      signal,
    })
    if (path !== 'one-hop') process.stderr.write(`relayed TCP via ${config.host}: ${path}\n`)
    const { socket: sb } = await inbound
    deadline.dispose()
    const [pa, pb] = await securePair(new RelayedTcpStream(sa, ca), new RelayedTcpStream(sb, cb))
    const rate = await transfer(pa, pb)
    pa.destroy()
    pb.destroy()
    return rate
  } finally {
    deadline.dispose()
    await Promise.all([ca.close(), cb.close()])
  }
}

const coturn = await startCoturn()
const here = dirname(fileURLToPath(import.meta.url))
const ours = start(process.execPath, nodeArgs(join(here, 'turn-server.ts'), []))
const oursConfig = { ...(await ours.line<Endpoint>(60_000)), username: 'bench', password: 'bench' }
const coturnConfig = {
  host: coturn.host,
  port: coturn.port,
  username: coturn.user,
  password: coturn.password,
}
const oursPid = ours.process.pid
const runs: Record<RelayPath, [number | undefined, () => Promise<Figures>]> = {
  direct: [undefined, direct],
  'turnserver-tcp': [oursPid, () => relayedTcp(oursConfig)],
  'coturn-tcp': [coturn.pid, () => relayedTcp(coturnConfig)],
  turnserver: [oursPid, () => relayed(oursConfig)],
  coturn: [coturn.pid, () => relayed(coturnConfig)],
}
const result: Partial<Record<RelayPath, number>> = {}
const cpu: Partial<Record<RelayPath, number>> = {}
try {
  // A discarded warm-up first (JIT, cipher contexts, allocators): without it the path that
  // comes first in the rotation paid for them and its ratio swung 0.2–1.8× between rounds.
  total = Math.min(measured, 8 * 1024 * 1024)
  await direct()
  total = measured
  // Rotated per round, like the side-by-side metrics.
  const shift = Number(round ?? 0) % paths.length
  for (const path of [...paths.slice(shift), ...paths.slice(0, shift)]) {
    // One path failing (say, a server refusing TCP allocations) leaves the others' figures.
    const [pid, run] = runs[path]
    relayPid = pid
    const figures = await run().catch((err: Error) => {
      process.stderr.write(`relayed ${path}: ${err.message}\n`)
      return undefined
    })
    if (figures) result[path] = figures.rate
    if (figures?.cpu !== undefined) cpu[path] = figures.cpu
  }
} finally {
  await ours.stop()
  await coturn.stop()
}
process.stdout.write(`${JSON.stringify({ rate: result, cpu })}\n`)
process.exit(0)
