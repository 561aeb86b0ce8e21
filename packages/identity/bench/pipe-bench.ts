// Raw loopback TCP vs the secure pipe in ONE interleaved run, one process per end:
//   bulk 64 MiB one way (64 KiB writes), 100k × 64 B echo with 256 in flight, 64 B ping-pong,
//   dial → authenticated pipe, heap per idle pipe (dialling side).
// pnpm tsx --conditions=@p2pd/source packages/identity/bench/pipe-bench.ts [rounds]
// Compare builds side by side in the same run: PIPE_BENCH_IMPLS='base=/abs/path/src/index.ts'
// (the order of all targets rotates every round); PIPE_BENCH_ONLY=bulk,send-cpu,recv-cpu
// runs only those measurements.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { connect, createServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type Lib = typeof import('../src/index.js')

const BULK_BYTES = 64 * 1024 * 1024
const BULK_WRITE = 64 * 1024
const ECHO_MESSAGES = 100_000
const ECHO_IN_FLIGHT = 256
const MESSAGE = 64
const PING_PONGS = 3_000
const DIALS = 60
const IDLE_PIPES = 300

async function loadImpls(): Promise<[string, Lib][]> {
  const impls: [string, Lib][] = [['pipe', (await import('../src/index.js')) as Lib]]
  for (const spec of (process.env.PIPE_BENCH_IMPLS ?? '').split(',').filter(Boolean)) {
    const [name, path] = spec.split('=') as [string, string]
    impls.push([name, (await import(pathToFileURL(path).href)) as Lib])
  }
  return impls
}

// ---- server (child process) ----

/**
 * First byte picks the test: 'B' + uint32 length = count the bytes, then answer with the CPU ms
 * spent receiving them (float64); 'E' = echo.
 */
function serve(stream: Duplex): void {
  let mode = 0
  let want = 0
  let got = 0
  let cpu: NodeJS.CpuUsage | undefined
  stream.on('error', () => {})
  stream.on('data', (chunk: Buffer) => {
    if (mode === 0) {
      mode = chunk[0] as number
      if (mode === 0x42) {
        want = chunk.readUInt32BE(1)
        chunk = chunk.subarray(5)
      } else chunk = chunk.subarray(1)
    }
    if (mode === 0x45) {
      if (chunk.length > 0) stream.write(chunk)
      return
    }
    cpu ??= process.cpuUsage()
    got += chunk.length
    if (got === want) {
      const used = process.cpuUsage(cpu)
      const answer = Buffer.alloc(8)
      answer.writeDoubleBE((used.user + used.system) / 1000)
      stream.write(answer)
    }
  })
  stream.on('end', () => stream.end())
}

async function runServer(): Promise<void> {
  const impls = await loadImpls()
  const listen = async (onSocket: (s: Socket) => void) => {
    const server = createServer({ noDelay: true }, onSocket).listen(0, '127.0.0.1')
    await once(server, 'listening')
    return (server.address() as { port: number }).port
  }
  const ports: Record<string, number> = { raw: await listen(serve) }
  const nodeIds: Record<string, string> = {}
  for (const [name, lib] of impls) {
    const identity = lib.generateIdentity()
    nodeIds[name] = identity.nodeId
    ports[name] = await listen((socket) => {
      socket.on('error', () => {})
      lib
        .secureChannel(socket, { identity, expectedPeer: () => true, initiator: false })
        .then(serve, () => {})
    })
  }
  process.stdout.write(`${JSON.stringify({ ports, nodeIds })}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

// ---- client ----

interface Target {
  readonly name: string
  readonly open: () => Promise<Duplex>
}

async function tcp(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  await once(socket, 'connect')
  return socket
}

interface Bulk {
  readonly MBps: number
  /** CPU ms per MB: sender (this process), receiver (the server). */
  readonly sendCpu: number
  readonly receiveCpu: number
}

async function bulk(stream: Duplex): Promise<Bulk> {
  const chunk = Buffer.alloc(BULK_WRITE, 0x5a)
  const header = Buffer.alloc(5)
  header[0] = 0x42
  header.writeUInt32BE(BULK_BYTES, 1)
  const acked = new Promise<number>((resolve) => {
    const parts: Buffer[] = []
    const onData = (c: Buffer) => {
      parts.push(c)
      const all = Buffer.concat(parts)
      if (all.length < 8) return
      stream.off('data', onData)
      resolve(all.readDoubleBE(0))
    }
    stream.on('data', onData)
  })
  const cpu = process.cpuUsage()
  const start = performance.now()
  stream.write(header)
  for (let sent = 0; sent < BULK_BYTES; sent += BULK_WRITE) {
    if (!stream.write(chunk)) await once(stream, 'drain')
  }
  const receiveMs = await acked
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  const mb = BULK_BYTES / 1e6
  return {
    MBps: mb / seconds,
    sendCpu: (used.user + used.system) / 1000 / mb,
    receiveCpu: receiveMs / mb,
  }
}

function echo(stream: Duplex): Promise<number> {
  return new Promise((resolve) => {
    const message = Buffer.alloc(MESSAGE, 0x61)
    let sent = 0
    let receivedBytes = 0
    const start = performance.now()
    const send = () => {
      sent++
      stream.write(message)
    }
    stream.on('data', (chunk: Buffer) => {
      const before = Math.floor(receivedBytes / MESSAGE)
      receivedBytes += chunk.length
      const done = Math.floor(receivedBytes / MESSAGE)
      for (let i = before; i < done && sent < ECHO_MESSAGES; i++) send()
      if (done === ECHO_MESSAGES) {
        stream.removeAllListeners('data')
        resolve(ECHO_MESSAGES / ((performance.now() - start) / 1000)) // msg/s
      }
    })
    stream.write(Buffer.from('E'))
    for (let i = 0; i < ECHO_IN_FLIGHT; i++) send()
  })
}

function pingPong(stream: Duplex): Promise<number> {
  return new Promise((resolve) => {
    const message = Buffer.alloc(MESSAGE, 0x61)
    let round = 0
    let have = 0
    const warmup = 200
    let start = 0
    stream.on('data', (chunk: Buffer) => {
      have += chunk.length
      if (have < MESSAGE) return
      have -= MESSAGE
      round++
      if (round === warmup) start = performance.now()
      if (round === warmup + PING_PONGS) {
        stream.removeAllListeners('data')
        resolve(((performance.now() - start) * 1000) / PING_PONGS) // µs per round trip
        return
      }
      stream.write(message)
    })
    stream.write(Buffer.from('E'))
    stream.write(message)
  })
}

async function dialMs(target: Target): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < DIALS; i++) {
    const t = performance.now()
    const s = await target.open()
    times.push(performance.now() - t)
    s.destroy()
  }
  return median(times)
}

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const settle = async () => {
  await new Promise((r) => setTimeout(r, 300))
  gc()
  gc()
}

async function heapPerPipe(target: Target): Promise<number> {
  await settle()
  const before = process.memoryUsage().heapUsed
  const pipes: Duplex[] = []
  for (let i = 0; i < IDLE_PIPES; i++) pipes.push(await target.open())
  // Let the pipes settle (they start reading on the next turn).
  await new Promise((r) => setTimeout(r, 50))
  gc()
  gc()
  const after = process.memoryUsage().heapUsed
  for (const p of pipes) p.destroy()
  await settle() // closes and frees them before the next measurement
  return (after - before) / IDLE_PIPES / 1024 // KiB
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function startServer(): Promise<{
  child: ChildProcess
  ports: Record<string, number>
  nodeIds: Record<string, string>
}> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  const self = fileURLToPath(import.meta.url)
  const child = spawn(
    process.execPath,
    ['--import', tsx, '--conditions=@p2pd/source', self, '--server'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let line = ''
  for await (const chunk of child.stdout as NodeJS.ReadableStream) {
    line += chunk.toString()
    if (line.includes('\n')) break
  }
  return { child, ...JSON.parse(line.slice(0, line.indexOf('\n'))) }
}

async function runClient(rounds: number): Promise<void> {
  const impls = await loadImpls()
  const server = await startServer()
  const targets: Target[] = [{ name: 'raw', open: () => tcp(server.ports.raw as number) }]
  for (const [name, lib] of impls) {
    const identity = lib.generateIdentity()
    // `ciphers` is the initiator's preference (ignored by builds without negotiation).
    for (const ciphers of name === 'pipe' ? [undefined, ['ChaChaPoly'] as const] : [undefined]) {
      targets.push({
        name: ciphers ? `${name}/chacha` : name,
        open: async () =>
          lib.secureChannel(await tcp(server.ports[name] as number), {
            identity,
            expectedPeer: server.nodeIds[name] as string,
            initiator: true,
            ...(ciphers ? { ciphers } : {}),
          }),
      })
    }
  }
  type Metric = 'bulk' | 'send-cpu' | 'recv-cpu' | 'echo' | 'pingpong' | 'dial' | 'heap'
  // The CPU per MB of each end (from the same bulk transfer) is steadier than MB/s on a
  // loaded machine: a receiver-bound pipe cannot beat raw × (raw's cost / the pipe's cost).
  const last = new Map<string, Bulk>()
  const metrics: [Metric, string, (t: Target) => Promise<number>][] = [
    [
      'bulk',
      'MB/s',
      async (t) => {
        const result = await withStream(t, bulk)
        last.set(t.name, result)
        return result.MBps
      },
    ],
    ['send-cpu', 'ms/MB', async (t) => (last.get(t.name) as Bulk).sendCpu],
    ['recv-cpu', 'ms/MB', async (t) => (last.get(t.name) as Bulk).receiveCpu],
    ['echo', 'msg/s', async (t) => withStream(t, echo)],
    ['pingpong', 'µs/rt', async (t) => withStream(t, pingPong)],
    ['dial', 'ms', dialMs],
    ['heap', 'KiB/pipe', heapPerPipe],
  ]
  // e.g. PIPE_BENCH_ONLY=bulk,send-cpu,recv-cpu for more rounds of one measurement.
  const only = process.env.PIPE_BENCH_ONLY?.split(',')
  if (only) metrics.splice(0, metrics.length, ...metrics.filter(([m]) => only.includes(m)))
  const results = new Map<string, number[]>()
  for (const t of targets) await (await t.open()).destroy() // warm up (JIT, key signing)
  for (let round = 0; round < rounds; round++) {
    // Rotate the order every round: whatever runs right after another target pays for its
    // leftovers (GC, the server's state), and that must not always be the same target.
    const order = targets.map((_, i) => targets[(i + round) % targets.length] as Target)
    for (const [metric, , run] of metrics) {
      for (const t of order) {
        const key = `${metric}/${t.name}`
        const value = await run(t)
        results.set(key, [...(results.get(key) ?? []), value])
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`)
  }
  server.child.stdin?.end()
  await once(server.child, 'exit').catch(() => {})
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2))
  console.log(`loopback, one process per end, medians of ${rounds} interleaved rounds`)
  for (const [metric, unit] of metrics) {
    const raw = median(results.get(`${metric}/raw`) ?? [])
    const cells = targets.map((t) => {
      const values = results.get(`${metric}/${t.name}`) ?? []
      const m = median(values)
      const ratio = t.name === 'raw' ? '' : ` (${(m / raw).toFixed(2)}×)`
      return `${t.name} ${fmt(m)}${ratio} [${values.map(fmt).join(' ')}]`
    })
    console.log(`${metric.padEnd(9)} ${unit.padEnd(9)} ${cells.join('   ')}`)
  }
}

async function withStream<T>(t: Target, f: (s: Duplex) => Promise<T>): Promise<T> {
  const s = await t.open()
  try {
    return await f(s)
  } finally {
    s.destroy()
  }
}

if (process.argv.includes('--server')) await runServer()
else await runClient(Number(process.argv[2] ?? 3))
