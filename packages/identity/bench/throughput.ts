// Secure-pipe throughput vs raw loopback TCP, in the same run, one process per end.
// pnpm exec tsx --conditions=@p2pd/source packages/identity/bench/throughput.ts [MiB]
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { generateIdentity, secureChannel } from '../src/index.js'

export interface ThroughputResult {
  readonly megabytes: number
  /** MB/s (10^6 bytes per second), best of the rounds. */
  readonly rawMBps: number
  readonly secureMBps: number
  readonly ratio: number
  /** Median handshake time over the secure rounds, ms (loopback, separate processes). */
  readonly handshakeMs: number
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

/** Writes `total` bytes honouring backpressure, ends, waits for the sink's 1-byte answer. */
async function pump(stream: Duplex, total: number): Promise<number> {
  const answered = new Promise<void>((resolve, reject) => {
    stream.once('data', () => resolve())
    stream.once('error', reject)
  })
  const start = performance.now()
  let sent = 0
  while (sent < total) {
    const n = Math.min(CHUNK.length, total - sent)
    sent += n
    if (!stream.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n)))
      await once(stream, 'drain')
  }
  stream.end()
  await answered
  return performance.now() - start
}

async function dial(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  await once(socket, 'connect')
  return socket
}

export async function measureThroughput(megabytes = 512, rounds = 3): Promise<ThroughputResult> {
  const total = megabytes * 1024 * 1024
  const identity = generateIdentity()
  const sink = await startSink()
  try {
    const raw: number[] = []
    const secure: number[] = []
    const handshakes: number[] = []
    for (let round = 0; round < rounds; round++) {
      const rawSocket = await dial(sink.raw)
      raw.push(total / 1e6 / ((await pump(rawSocket, total)) / 1000))
      rawSocket.destroy()

      const socket = await dial(sink.secure)
      const t = performance.now()
      const pipe = await secureChannel(socket, {
        identity,
        expectedPeer: () => true,
        initiator: true,
        timeoutMs: 5_000,
      })
      handshakes.push(performance.now() - t)
      secure.push(total / 1e6 / ((await pump(pipe, total)) / 1000))
      pipe.destroy()
    }
    const rawMBps = Math.max(...raw)
    const secureMBps = Math.max(...secure)
    handshakes.sort((a, b) => a - b)
    return {
      megabytes,
      rawMBps,
      secureMBps,
      ratio: secureMBps / rawMBps,
      handshakeMs: handshakes[Math.floor(handshakes.length / 2)] as number,
    }
  } finally {
    sink.child.stdin?.end()
    sink.child.kill()
    await once(sink.child, 'exit').catch(() => {})
  }
}

export function formatThroughput(r: ThroughputResult): string {
  return (
    `${r.megabytes} MiB over loopback TCP, one process per end (best of rounds):\n` +
    `  raw TCP      ${r.rawMBps.toFixed(0)} MB/s\n` +
    `  secure pipe  ${r.secureMBps.toFixed(0)} MB/s\n` +
    `  ratio        ${r.ratio.toFixed(2)} (target ≥ 0.60)\n` +
    `  handshake    ${r.handshakeMs.toFixed(2)} ms (median, separate processes)`
  )
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const megabytes = Number(process.argv[2] ?? 512)
  console.log(formatThroughput(await measureThroughput(megabytes)))
}
