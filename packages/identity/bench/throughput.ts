// Secure-pipe throughput vs raw loopback TCP, in the same run, one process per end; then the
// time from dial to an authenticated pipe.
// pnpm exec tsx --conditions=@p2pd/source packages/identity/bench/throughput.ts [MiB] [rounds]
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { generateIdentity, secureChannel } from '../src/index.js'

export interface ThroughputResult {
  readonly megabytes: number
  readonly rounds: number
  /** MB/s (10^6 bytes per second), best of the rounds. */
  readonly rawMBps: number
  readonly secureMBps: number
  /** Best secure over best raw. */
  readonly ratio: number
  /** Per round, secure over raw of that round (they run back to back). */
  readonly roundRatios: readonly number[]
  /** CPU ms per MB on each end (sender, receiver), from the best round of each kind. */
  readonly rawCpuPerMB: readonly [number, number]
  readonly secureCpuPerMB: readonly [number, number]
  /** TCP connect → authenticated pipe on the dialling side, ms (separate processes). */
  readonly dialMs: Stats
  /** The handshake alone (after the TCP connect), ms. */
  readonly handshakeMs: Stats
  /** The very first dial of the process (includes signing the Noise static key, JIT). */
  readonly firstDialMs: number
}

export interface Stats {
  readonly median: number
  readonly p99: number
  readonly min: number
  readonly n: number
}

const CHUNK = Buffer.alloc(1024 * 1024, 0x5a)

async function startSink(): Promise<{ child: ChildProcess; raw: number; secure: number }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  const sink = fileURLToPath(new URL('./throughput-sink.ts', import.meta.url))
  // e.g. P2PD_BENCH_SINK_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the receiver.
  const extra = process.env.P2PD_BENCH_SINK_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(
    process.execPath,
    [...extra, '--import', tsx, '--conditions=@p2pd/source', sink],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  let line = ''
  for await (const chunk of child.stdout as NodeJS.ReadableStream) {
    line += chunk.toString()
    if (line.includes('\n')) break
  }
  const ports = JSON.parse(line.slice(0, line.indexOf('\n'))) as { raw: number; secure: number }
  return { child, ...ports }
}

interface Transfer {
  readonly MBps: number
  readonly cpuPerMB: [number, number]
}

/**
 * Writes `total` bytes in 1 MiB chunks honouring backpressure, ends, and waits for the sink's
 * answer (its CPU ms for the transfer). Raw and secure runs go through exactly this code.
 */
async function pump(stream: Duplex, total: number): Promise<Transfer> {
  const answered = new Promise<number>((resolve, reject) => {
    const parts: Buffer[] = []
    stream.on('data', (c: Buffer) => parts.push(c))
    stream.once('end', () => resolve(Buffer.concat(parts).readDoubleBE(0)))
    stream.once('error', reject)
  })
  const cpu = process.cpuUsage()
  const start = performance.now()
  let sent = 0
  while (sent < total) {
    const n = Math.min(CHUNK.length, total - sent)
    sent += n
    if (!stream.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n)))
      await once(stream, 'drain')
  }
  stream.end()
  const sinkCpuMs = await answered
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  const mb = total / 1e6
  return {
    MBps: mb / (ms / 1000),
    cpuPerMB: [(used.user + used.system) / 1000 / mb, sinkCpuMs / mb],
  }
}

async function dial(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  await once(socket, 'connect')
  return socket
}

function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
  return { median: at(0.5), p99: at(0.99), min: s[0] as number, n: s.length }
}

const best = (runs: Transfer[]) => runs.reduce((a, b) => (b.MBps > a.MBps ? b : a))

export async function measureThroughput(
  megabytes = 512,
  rounds = 3,
  dials = 100,
): Promise<ThroughputResult> {
  const total = megabytes * 1024 * 1024
  const identity = generateIdentity()
  const sink = await startSink()
  const secureDial = async () => {
    const t0 = performance.now()
    const socket = await dial(sink.secure)
    const t1 = performance.now()
    const pipe = await secureChannel(socket, {
      identity,
      expectedPeer: () => true,
      initiator: true,
      timeoutMs: 5_000,
    })
    const t2 = performance.now()
    return { pipe, dialMs: t2 - t0, handshakeMs: t2 - t1 }
  }
  try {
    const first = await secureDial()
    first.pipe.destroy()
    const raw: Transfer[] = []
    const secure: Transfer[] = []
    for (let round = 0; round < rounds; round++) {
      const rawSocket = await dial(sink.raw)
      raw.push(await pump(rawSocket, total))
      rawSocket.destroy()
      const { pipe } = await secureDial()
      secure.push(await pump(pipe, total))
      pipe.destroy()
    }
    const dialTimes: number[] = []
    const handshakeTimes: number[] = []
    for (let i = 0; i < dials; i++) {
      const { pipe, dialMs, handshakeMs } = await secureDial()
      dialTimes.push(dialMs)
      handshakeTimes.push(handshakeMs)
      pipe.destroy()
    }
    const bestRaw = best(raw)
    const bestSecure = best(secure)
    return {
      megabytes,
      rounds,
      rawMBps: bestRaw.MBps,
      secureMBps: bestSecure.MBps,
      ratio: bestSecure.MBps / bestRaw.MBps,
      roundRatios: secure.map((s, i) => s.MBps / (raw[i] as Transfer).MBps),
      rawCpuPerMB: bestRaw.cpuPerMB,
      secureCpuPerMB: bestSecure.cpuPerMB,
      dialMs: stats(dialTimes),
      handshakeMs: stats(handshakeTimes),
      firstDialMs: first.dialMs,
    }
  } finally {
    sink.child.stdin?.end()
    sink.child.kill()
    await once(sink.child, 'exit').catch(() => {})
  }
}

export function formatThroughput(r: ThroughputResult): string {
  const f = (n: number, d = 0) => n.toFixed(d)
  const cpu = (c: readonly [number, number]) => `${f(c[0], 2)} / ${f(c[1], 2)}`
  const ms = (s: Stats) => `median ${f(s.median, 2)}, p99 ${f(s.p99, 2)}, min ${f(s.min, 2)}`
  return (
    `${r.megabytes} MiB over loopback TCP, one process per end, best of ${r.rounds} rounds:\n` +
    `  raw TCP      ${f(r.rawMBps)} MB/s   (CPU ms/MB sender / receiver: ${cpu(r.rawCpuPerMB)})\n` +
    `  secure pipe  ${f(r.secureMBps)} MB/s   (CPU ms/MB sender / receiver: ${cpu(r.secureCpuPerMB)})\n` +
    `  ratio        ${f(r.ratio, 2)} (target ≥ 0.60); per round ${r.roundRatios.map((x) => f(x, 2)).join(', ')}\n` +
    `  dial → authenticated pipe  ${ms(r.dialMs)} ms over ${r.dialMs.n} dials (first ${f(r.firstDialMs, 1)})\n` +
    `  handshake alone            ${ms(r.handshakeMs)} ms`
  )
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const megabytes = Number(process.argv[2] ?? 512)
  const rounds = Number(process.argv[3] ?? 3)
  console.log(formatThroughput(await measureThroughput(megabytes, rounds)))
}
