// The receiving end of bench/throughput.ts, run in its own process (one process per end, as
// each end's CPU time is its own): counts bytes until the sender ends, then answers with its CPU time
// for the transfer (a float64, ms), so the sender can print CPU per MB for both ends.
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import { generateIdentity, secureChannel } from '../src/index.js'

const identity = generateIdentity()

async function drainThenAck(readable: Readable, writable: Writable): Promise<void> {
  let bytes = 0
  let cpuStart: NodeJS.CpuUsage | undefined
  readable.on('data', (chunk: Buffer) => {
    cpuStart ??= process.cpuUsage()
    bytes += chunk.length
  })
  await once(readable, 'end')
  const cpu = cpuStart ? process.cpuUsage(cpuStart) : { user: 0, system: 0 }
  const answer = Buffer.alloc(8)
  answer.writeDoubleBE(bytes > 0 ? (cpu.user + cpu.system) / 1000 : -1)
  writable.end(answer)
}

function listen(onSocket: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ noDelay: true, allowHalfOpen: true }, onSocket)
  server.listen(0, '127.0.0.1')
  return once(server, 'listening').then(() => server)
}

const raw = await listen((socket) => {
  socket.on('error', () => {})
  void drainThenAck(socket, socket)
})
const secure = await listen((socket) => {
  socket.on('error', () => {})
  secureChannel(socket, {
    identity,
    expectedPeer: () => true,
    initiator: false,
    timeoutMs: 5_000,
    allowHalfOpen: true,
  })
    .then((pipe) => {
      pipe.on('error', () => {})
      return drainThenAck(pipe, pipe)
    })
    .catch(() => socket.destroy())
})
const port = (s: Server) => (s.address() as { port: number }).port
process.stdout.write(
  `${JSON.stringify({ raw: port(raw), secure: port(secure), nodeId: identity.nodeId })}\n`,
)
// The parent closes our stdin when it is done; then we go.
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
process.stdin.on('close', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
