/**
 * The lab agent: a small program run inside one namespace (`ip netns exec NS node … agent.ts`)
 * that opens sockets on command. The controller (self-check, probes) drives it over stdio with
 * one JSON object per line: requests `{id, op, …}`, answers `{id, ok, result | error}`.
 *
 * `--serve HOST:PORT,…` instead starts the lab's "seen" service and takes no commands: every
 * TCP connection gets `seen IP:PORT\n` (the address it came from) and every UDP datagram gets
 * the same line back. Runners use it to learn their public mapping, like a STUN binding.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server, Socket } from 'node:net'
import { createInterface } from 'node:readline'

type Json = Record<string, unknown>

interface UdpEntry {
  sock: UdpSocket
  inbox: { from: string; data: string; at: number }[]
  waiters: Set<(m: { from: string; data: string }) => void>
}

const udps = new Map<number, UdpEntry>()
const conns = new Map<number, Socket>()
const servers = new Map<number, Server>()
const accepts: { server: number; from: string; local: string; at: number }[] = []
let nextId = 1

const addr = (host: string | undefined, port: number | undefined) =>
  host?.includes(':') ? `[${host}]:${port}` : `${host}:${port}`

function seenLine(host: string | undefined, port: number | undefined): string {
  return `seen ${addr(host?.replace(/^::ffff:/, ''), port)}\n`
}

async function udpOpen(a: Json): Promise<Json> {
  // IPv6 when asked (`family: 6`) or bound to an IPv6 address.
  const v6 = a.family === 6 || String(a.host ?? '').includes(':')
  const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: false, ipv6Only: v6 })
  const entry: UdpEntry = { sock, inbox: [], waiters: new Set() }
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind((a.port as number) ?? 0, (a.host as string) ?? (v6 ? '::' : '0.0.0.0'), () => {
      sock.off('error', reject)
      resolve()
    })
  })
  sock.on('error', () => {})
  sock.on('message', (msg, rinfo) => {
    const m = { from: addr(rinfo.address, rinfo.port), data: msg.toString() }
    if (a.echo) {
      sock.send(seenLine(rinfo.address, rinfo.port), rinfo.port, rinfo.address)
      return
    }
    entry.inbox.push({ ...m, at: Date.now() })
    for (const w of entry.waiters) w(m)
  })
  const id = nextId++
  udps.set(id, entry)
  const local = sock.address()
  return { sock: id, host: local.address, port: local.port }
}

function udpOf(a: Json): UdpEntry {
  const e = udps.get(a.sock as number)
  if (!e) throw new Error(`no udp socket ${String(a.sock)}`)
  return e
}

async function udpSend(a: Json): Promise<Json> {
  const e = udpOf(a)
  await new Promise<void>((resolve, reject) =>
    e.sock.send(String(a.data ?? ''), a.port as number, a.host as string, (err) =>
      err ? reject(err) : resolve(),
    ),
  )
  return {}
}

/** Sends and waits for the first datagram back from that address (or a timeout). */
async function udpRequest(a: Json): Promise<Json> {
  const e = udpOf(a)
  const want = addr(a.host as string, a.port as number)
  const started = performance.now()
  return new Promise((resolve) => {
    const done = (r: Json) => {
      clearTimeout(timer)
      e.waiters.delete(onMsg)
      resolve(r)
    }
    const onMsg = (m: { from: string; data: string }) => {
      if (m.from === want) done({ from: m.from, data: m.data, rttMs: performance.now() - started })
    }
    const timer = setTimeout(() => done({ timeout: true }), (a.timeoutMs as number) ?? 1000)
    e.waiters.add(onMsg)
    e.sock.send(String(a.data ?? 'probe'), a.port as number, a.host as string, (err) => {
      if (err) done({ error: (err as NodeJS.ErrnoException).code ?? err.message })
    })
  })
}

async function udpInbox(a: Json): Promise<Json> {
  const e = udpOf(a)
  const messages = [...e.inbox]
  if (a.clear) e.inbox.length = 0
  return { messages }
}

async function tcpListen(a: Json): Promise<Json> {
  const id = nextId++
  const server = createServer((s) => {
    s.on('error', () => {})
    accepts.push({
      server: id,
      from: addr(s.remoteAddress?.replace(/^::ffff:/, ''), s.remotePort),
      local: addr(s.localAddress, s.localPort),
      at: Date.now(),
    })
    s.write(seenLine(s.remoteAddress, s.remotePort))
    s.pipe(s)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: a.host as string, port: (a.port as number) ?? 0 }, () => resolve())
  })
  servers.set(id, server)
  const local = server.address()
  return { server: id, port: typeof local === 'object' && local ? local.port : 0 }
}

/** Connects (optionally from a fixed local port) and reports how it went: ok, refused, timeout. */
async function tcpConnect(a: Json): Promise<Json> {
  const started = performance.now()
  const s = new Socket()
  return new Promise((resolve) => {
    let line = ''
    let settled = false
    const finish = (r: Json, keep: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const ms = performance.now() - started
      if (keep) {
        const id = nextId++
        conns.set(id, s)
        resolve({ ...r, conn: id, ms })
      } else {
        s.destroy()
        resolve({ ...r, ms })
      }
    }
    const timer = setTimeout(
      () => finish({ ok: false, outcome: 'timeout' }, false),
      (a.timeoutMs as number) ?? 2000,
    )
    s.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message
      const outcome = code === 'ECONNREFUSED' || code === 'ECONNRESET' ? 'refused' : 'error'
      finish({ ok: false, outcome, error: code }, false)
    })
    s.on('connect', () => {
      const base = {
        ok: true,
        outcome: 'connected',
        local: addr(s.localAddress, s.localPort),
        remote: addr(s.remoteAddress, s.remotePort),
      }
      if (!a.readLine) return finish(base, a.keep !== false)
      s.on('data', (b) => {
        line += b.toString()
        const nl = line.indexOf('\n')
        if (nl >= 0) finish({ ...base, line: line.slice(0, nl) }, a.keep !== false)
      })
    })
    s.connect({
      host: a.host as string,
      port: a.port as number,
      localAddress: a.localHost as string | undefined,
      localPort: a.localPort as number | undefined,
    })
  })
}

async function tcpClose(a: Json): Promise<Json> {
  conns.get(a.conn as number)?.destroy()
  conns.delete(a.conn as number)
  return {}
}

async function tcpAccepts(a: Json): Promise<Json> {
  const list = accepts.filter((x) => a.server === undefined || x.server === a.server)
  if (a.clear) accepts.length = 0
  return { accepts: list }
}

async function closeAll(): Promise<Json> {
  for (const e of udps.values()) e.sock.close()
  for (const c of conns.values()) c.destroy()
  for (const s of servers.values()) s.close()
  udps.clear()
  conns.clear()
  servers.clear()
  return {}
}

const ops: Record<string, (a: Json) => Promise<Json>> = {
  udpOpen,
  udpSend,
  udpRequest,
  udpInbox,
  tcpListen,
  tcpConnect,
  tcpClose,
  tcpAccepts,
  closeAll,
  ping: async () => ({ pid: process.pid, now: Date.now() }),
}

async function serve(list: string): Promise<void> {
  for (const hp of list.split(',')) {
    // HOST:PORT or [IPV6]:PORT
    const i = hp.lastIndexOf(':')
    const host = hp.slice(0, i).replace(/^\[(.*)\]$/, '$1')
    const port = hp.slice(i + 1)
    await tcpListen({ host, port: Number(port) })
    await udpOpen({ host, port: Number(port), echo: true })
  }
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`)
}

function main(): void {
  process.on('SIGTERM', () => process.exit(0))
  process.on('SIGINT', () => process.exit(0))
  const i = process.argv.indexOf('--serve')
  if (i >= 0) {
    serve(process.argv[i + 1] ?? '').catch((err) => {
      process.stderr.write(`agent: ${String(err)}\n`)
      process.exit(1)
    })
    // The service lives until the lab stops it by PID (its listeners keep it running).
    return
  }
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (text) => {
    let req: Json
    try {
      req = JSON.parse(text) as Json
    } catch {
      return
    }
    const op = ops[req.op as string]
    const reply = (body: Json) =>
      process.stdout.write(`${JSON.stringify({ id: req.id, ...body })}\n`)
    if (!op) return reply({ ok: false, error: `unknown op ${String(req.op)}` })
    op(req).then(
      (result) => reply({ ok: true, result }),
      (err: Error) =>
        reply({ ok: false, error: (err as NodeJS.ErrnoException).code ?? err.message }),
    )
  })
  rl.on('close', () => process.exit(0))
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`)
}

main()
