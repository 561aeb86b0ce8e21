/**
 * A node that strangers attack, in a process of its own (so the scenario can start it under a
 * low open-file limit). Started with `--expose-gc`, it forces a full collection every second.
 *
 * argv[2]: JSON `{ inbound?: InboundLimits, handshakeTimeoutMs?: number }`.
 * stdout: JSON lines, `{ ready, address, port }` first, then one reply per command.
 * stdin: JSON lines `{ id, op: 'stats' | 'lifetimes' | 'connect' | 'stop', address? }`.
 */
import { Server, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { MemorySignalingHub } from '@p2pd/interface'
import { createNode, direct, type InboundLimits } from '@p2pd/node'

const init = JSON.parse(process.argv[2] ?? '{}') as {
  inbound?: InboundLimits
  handshakeTimeoutMs?: number
}
// How long each accepted socket lived here, from the accept (the moment the node's listener
// sees it) to its close, by the peer's `address:port`: the time it held one of our fds.
const lifetimes = new Map<string, { acceptedAt: number; ms?: number }>()
const emit = Server.prototype.emit as (this: Server, ...args: unknown[]) => boolean
Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'connection') {
    const socket = args[0] as Socket
    const life: { acceptedAt: number; ms?: number } = { acceptedAt: performance.now() }
    lifetimes.set(`${socket.remoteAddress}:${socket.remotePort}`, life)
    socket.once('close', () => {
      life.ms = performance.now() - life.acceptedAt
    })
  }
  return emit.call(this, event, ...args)
} as typeof emit

const gc = (globalThis as { gc?: () => void }).gc
const collector = gc ? setInterval(gc, 1_000) : undefined
const hub = new MemorySignalingHub()
const node = createNode({
  signaling: (id) => hub.connect(id.nodeId),
  listen: { host: '127.0.0.1' },
  strategies: [direct()],
  networkCheckMs: 0,
  inbound: init.inbound,
  handshakeTimeoutMs: init.handshakeTimeoutMs,
})
const say = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`)

await node.start()
// Legitimate peers get their pipes echoed (and closed when they close).
void (async () => {
  for await (const pipe of node.incoming) {
    pipe.on('error', () => {})
    pipe.pipe(pipe)
  }
})()
say({ ready: true, address: node.addressText, port: node.address.ip4[0]?.port, gc: !!gc })

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { id: number; op: string; address?: string }
  if (cmd.op === 'stats') say({ id: cmd.id, stats: node.stats.inbound })
  else if (cmd.op === 'lifetimes') {
    say({ id: cmd.id, lifetimes: Object.fromEntries([...lifetimes].map(([k, v]) => [k, v.ms])) })
  } else if (cmd.op === 'connect') {
    const t0 = performance.now()
    try {
      const pipe = await node.connect(cmd.address as string, { timeoutMs: 5_000 })
      pipe.on('error', () => {})
      say({ id: cmd.id, ok: true, ms: performance.now() - t0 })
      await pipe.close()
    } catch (err) {
      say({ id: cmd.id, ok: false, ms: performance.now() - t0, error: (err as Error).message })
    }
  } else if (cmd.op === 'stop') break
}
clearInterval(collector)
await node.stop()
process.exit(0)
