/**
 * natlab strategy runner for a real p2pd node (`@p2pd/node`), registered as `node-direct`,
 * `node-reverse`, `node-punch`, `node-turn` and `node-auto` (see `p2pd-runners.ts`). One side of
 * a trial, run by the lab in the side's host namespace (protocol: `protocol.ts`):
 *
 * - `createNode` with interfaces from `stunInterfaces` (our RFC 5780 STUN server, the lab's
 *   public range 198.18.0.0/15 treated as public), MQTT signaling through the lab's mosquitto,
 *   a distinct `machineId` (every lab namespace shares /etc/machine-id: without it both nodes
 *   would believe they are on one machine and dial loopback), and a clock measured once
 *   against the lab SNTP server (a few fast queries; the system clock if none answers).
 * - Strategies by runner name: `direct()`, `reverse()`, `punch()`, `turn()` (lab TURN,
 *   long-term credential), or all four in that order for `node-auto` — the node's pipeline.
 * - `ready` carries the node's peer address; A connects to B's at the shared start, B takes
 *   the first pipe from `node.incoming`. Both prove the data path with the lab's hello over the
 *   authenticated pipe and report the winner (`pipe.strategy`) and `pipe.path`. The lab, not
 *   this runner, judges "direct" (observed addresses + conntrack).
 *
 * Options: `stun` (`p2pd` default | `coturn`), `turnServer` (`p2pd` default | `coturn`),
 * `connectTimeoutMs` (20,000), `inboundTimeoutMs` (connect + 2,000), `ntp` (true),
 * `discoverFirst` (false: all at once, as `createNode({ interfaces: stunInterfaces(…) })` does;
 * true: SNTP, then STUN discovery, then `node.start()`), `turnStream` (reliable-stream tuning passed to `turn({ stream })`), `turnTcp` (`turn({ tcp })`:
 * true/false force TCP/UDP relays; absent: the strategy's own choice), `throughputBytes` (0: off; else A sends that many bytes after the hello and B reports the
 * receive rate in `detail.throughput` — the benchmark's direct vs relayed figure).
 * The node stays up after its result until the lab stops it (SIGTERM), then stops gracefully
 * (pipes closed, TURN allocation released) — so neither side closes under the other.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { type Clock, Deadline, type Strategy } from '@p2pd/interface'
import { createNode, direct, reverse, stunInterfaces } from '@p2pd/node'
import { measureOffset } from '@p2pd/ntp'
import { punch } from '@p2pd/punch'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import { turn } from '@p2pd/turn'
import { emit, errCode, runnerConfig, sleep, waitStart } from './kit.js'
import type { RunnerResult } from './protocol.js'

const cfg = runnerConfig()
const kind = cfg.runner.replace(/^node-/, '')
const opt = cfg.options
const connectTimeoutMs = Number(opt.connectTimeoutMs ?? 20_000)
const inboundTimeoutMs = Number(opt.inboundTimeoutMs ?? connectTimeoutMs + 2000)
const bulkBytes = Number(opt.throughputBytes ?? 0)

const srv = cfg.servers
// The lab's IP families of this side (from the profile name): `fw6…` is IPv6 only, `…+v6`
// dual-stack; an IPv6-only host reaches the servers' IPv6 twins only.
const family = /^fw6/.test(cfg.self.profile)
  ? 'v6'
  : cfg.self.profile.split('+').includes('v6')
    ? 'dual'
    : 'v4'
const stun4 =
  opt.stun === 'coturn' ? srv.coturn?.stun : (srv['p2pd-stun']?.stun ?? srv.coturn?.stun)
const stun6 = family !== 'v4' ? srv['p2pd-stun']?.stun6 : undefined
const stun = family === 'v6' ? stun6 : stun4
const stunAll = [stun4, stun6].filter((e) => e !== undefined && (family !== 'v6' || e === stun6))
// An IPv6-only host reaches our TURN server on its IPv6 twin (`turn6`).
const turn6 = family === 'v6' ? srv['p2pd-turn']?.turn6 : undefined
const turnEp =
  opt.turnServer === 'coturn'
    ? srv.coturn?.turn
    : (turn6 ?? srv['p2pd-turn']?.turn ?? srv.coturn?.turn)
const mqtt = family === 'v6' ? srv.mosquitto?.mqtt6?.extra?.url : srv.mosquitto?.mqtt?.extra?.url
const sntp = family === 'v6' ? srv['p2pd-sntp']?.sntp6 : srv['p2pd-sntp']?.sntp
if (!stun || !mqtt) throw new Error('the lab has no STUN server or no mosquitto')
const hp = (e: { host: string; port: number }) =>
  e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`

const events: Record<string, unknown>[] = []
const log = (m: string) => {
  if (events.length < 60) events.push({ at: Date.now(), m: m.slice(0, 300) })
}

function strategiesFor(name: string): Strategy[] {
  const p = () =>
    punch({
      stunServers: stunAll.map((e) => ({ host: e!.host, port: e!.port })),
      onEvent: (e) => log(`punch ${JSON.stringify(e)}`),
    })
  const t = () => {
    if (!turnEp?.extra) throw new Error('the lab has no TURN server')
    return turn({
      stream: opt.turnStream as Parameters<typeof turn>[0]['stream'],
      ...(typeof opt.turnTcp === 'boolean' ? { tcp: opt.turnTcp } : {}),
      servers: [
        {
          host: turnEp.host,
          port: turnEp.port,
          transport: 'udp',
          username: turnEp.extra.user as string,
          password: turnEp.extra.password as string,
        },
      ],
    })
  }
  switch (name) {
    case 'direct':
      return [direct()]
    case 'reverse':
      return [reverse()]
    case 'punch':
      return [p()]
    case 'turn':
      return [t()]
    case 'auto':
      return [direct(), reverse(), p(), t()]
    default:
      throw new Error(`unknown node runner '${cfg.runner}'`)
  }
}

// A clock measured once against the lab SNTP server; mutable so the node can hold it now.
const clock: { now(): number; offset: number; uncertainty: number } = {
  offset: 0,
  uncertainty: 1000,
  now() {
    return Date.now() + this.offset
  },
}
async function syncClock(): Promise<void> {
  if (!sntp || opt.ntp === false) return
  try {
    const est = await measureOffset([{ host: sntp.host, port: sntp.port }], {
      samplesPerServer: 3,
      spacingMs: 20,
      timeoutMs: 2000,
    })
    clock.offset = est.offset
    clock.uncertainty = est.uncertainty
  } catch (err) {
    log(`sntp: ${(err as Error).message}`)
  }
}

const strategies = strategiesFor(kind)
const discover = stunInterfaces({
  stunServers: stunAll.map((e) => hp(e!)),
  // The lab's "internet": a benchmarking range and the IPv6 documentation range.
  publicRanges: ['198.18.0.0/15', '2001:db8::/32'],
  families: family === 'v4' ? [4] : family === 'v6' ? [6] : [4, 6],
  log,
})
// Option `discoverFirst`: discovery alone, before SNTP, MQTT and the listener (a
// sequential-symmetric NAT has one port counter for every flow of the host, so flows beside
// the delta sampling can make `seq+1` look random). Off by default: the node's own behaviour,
// and one short run with it on did not do better (the sym-seq1 profile's 64-port pool is the
// tighter limit when one peer runs many trials in a row).
const discoverFirst = opt.discoverFirst === true
const t0 = performance.now()
let discoveryMs = 0
async function interfaces(signal: AbortSignal) {
  const t = performance.now()
  const r = await discover(signal)
  discoveryMs = performance.now() - t
  return r
}
async function discoverWithin(ms: number) {
  const deadline = new Deadline(ms, undefined, 'discovery')
  try {
    return await deadline.race(interfaces(deadline.signal))
  } catch {
    return []
  } finally {
    deadline.dispose()
  }
}
const discovered = discoverFirst ? await syncClock().then(() => discoverWithin(15_000)) : undefined
const node = createNode({
  signaling: (identity) => mqttSignaling({ identity, brokers: [mqtt], redundancy: 1 }),
  strategies,
  interfaces: discovered ?? interfaces,
  clock: clock as Clock,
  machineId: `natlab_${cfg.self.label}_${process.pid}`,
  connectTimeoutMs,
  startTimeoutMs: 15_000,
  // A `+portmap` router runs miniupnpd: map the listener through the gateway of the route to
  // the STUN server, read from this namespace's routing table as on any host.
  portMapping: cfg.self.profile.includes('+portmap') ? { towards: stun.host } : undefined,
  log,
})

let stopping: Promise<void> | undefined
function stopNode(): Promise<void> {
  stopping ??= Promise.race([node.stop(), sleep(400)]).catch(() => {})
  return stopping
}
process.on('SIGTERM', () => void stopNode().finally(() => process.exit(0)))

let reported = false
/** Prints the result; the process then idles until the lab stops it (or 60 s pass). */
function report(result: RunnerResult): void {
  if (reported) return
  reported = true
  emit({ type: 'result', ...result })
  setTimeout(() => void stopNode().finally(() => process.exit(0)), 60_000).unref()
  process.stdin.on('end', () => void stopNode().finally(() => process.exit(0)))
}

let startMs = 0
let address = ''
try {
  ;[address] = await Promise.all([node.start(), discoverFirst ? undefined : syncClock()])
  // From the first STUN/SNTP packet (or createNode) to the address: what a user waits for.
  startMs = performance.now() - t0
} catch (err) {
  emit({ type: 'ready', info: {} })
  report({ ok: false, strategy: cfg.runner, error: `start: ${errCode(err)}`, detail: { events } })
}

const timing = () => ({
  nodeStartMs: Math.round(startMs),
  discoveryMs: Math.round(discoveryMs),
  // performance.now() counts from process start: spawn → ready address.
  processToReadyMs: Math.round(t0 + startMs),
  clock: { offset: clock.offset, uncertainty: clock.uncertainty },
})
if (!reported) {
  emit({ type: 'ready', info: { address, ...timing() } })
  const start = await waitStart()
  await sleep(start.startAt - Date.now())
  try {
    const pipe =
      cfg.role === 'A'
        ? await node.connect(String(start.peer.address))
        : await firstIncoming(inboundTimeoutMs)
    const connectedAt = Date.now()
    await hello(pipe, cfg.role, start.nonce, 5000)
    const rep = (
      pipe as {
        report?: {
          winner?: string
          stages?: unknown
          totalMs?: number
          localNat?: unknown
          remoteNat?: unknown
        }
      }
    ).report
    const throughput = bulkBytes > 0 ? await bulk(pipe, cfg.role, bulkBytes) : undefined
    report({
      ok: true,
      strategy: rep?.winner ?? pipe.strategy,
      connectedAt,
      local: `${pipe.path.local.host}:${pipe.path.local.port}`,
      remote: `${pipe.path.remote.host}:${pipe.path.remote.port}`,
      relayed: pipe.path.relayed,
      detail: {
        ...timing(),
        stages: rep?.stages,
        totalMs: rep?.totalMs,
        nat: rep ? { local: rep.localNat, remote: rep.remoteNat } : undefined,
        throughput,
        events,
      },
    })
  } catch (err) {
    const rep = (err as { report?: unknown }).report
    report({
      ok: false,
      strategy: cfg.runner,
      error: errCode(err),
      detail: { ...timing(), report: rep, events },
    })
  }
}

async function firstIncoming(timeoutMs: number) {
  const timer = setTimeout(() => node.incoming.close(), timeoutMs)
  for await (const p of node.incoming) {
    clearTimeout(timer)
    return p
  }
  throw Object.assign(new Error('no inbound pipe'), { code: 'timeout' })
}

/** The lab's data-path proof over a Duplex: `hello ROLE NONCE\n` each way. */
function hello(s: Duplex, role: string, nonce: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const want = `hello ${role === 'A' ? 'B' : 'A'} ${nonce}`
    const done = (err?: Error) => {
      clearTimeout(timer)
      s.off('data', onData)
      s.off('error', onErr)
      if (err) reject(err)
      else resolve()
    }
    const timer = setTimeout(
      () => done(Object.assign(new Error('no hello from peer'), { code: 'ENOHELLO' })),
      timeoutMs,
    )
    const onErr = (e: Error) => done(e)
    const onData = (b: Buffer) => {
      buf += b.toString()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      // Keep whatever followed the line (the bulk transfer may start right behind it).
      s.pause()
      if (nl + 1 < buf.length) s.unshift(Buffer.from(buf.slice(nl + 1)))
      if (line === want) done()
      else done(Object.assign(new Error(`unexpected hello '${line}'`), { code: 'EBADHELLO' }))
    }
    s.on('data', onData)
    s.on('error', onErr)
    s.write(`hello ${role} ${nonce}\n`)
  })
}

/**
 * Bulk transfer after the hello: A writes `bytes` of random data (64 KiB chunks, with
 * backpressure), B reads them and answers one byte. B's rate runs from its first to its last
 * byte; A's from its first write to B's answer (one extra round trip). Both report the SHA-256
 * of what they sent / received, so a test can check the bytes arrived intact.
 */
async function bulk(s: Duplex, role: string, bytes: number) {
  const t = performance.now()
  const sha = createHash('sha256')
  if (role === 'A') {
    const chunk = randomBytes(65_536)
    let sent = 0
    const answered = new Promise<void>((resolve, reject) => {
      s.once('data', () => resolve())
      s.once('error', reject)
      s.once('close', () => reject(new Error('pipe closed during bulk transfer')))
      s.resume()
    })
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent)
      sent += n
      // A fresh chunk each time (writes keep a reference to what they were given).
      const piece = Buffer.from(chunk.subarray(0, n))
      chunk.writeUInt32BE(sent >>> 0, 0)
      sha.update(piece)
      if (!s.write(piece)) await new Promise((r) => s.once('drain', r))
    }
    await withDeadline(answered, 60_000)
    const ms = performance.now() - t
    return {
      role,
      bytes,
      ms: Math.round(ms),
      mbitPerS: +((bytes * 8) / ms / 1000).toFixed(1),
      sha256: sha.digest('hex'),
    }
  }
  let got = 0
  let first = 0
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        if (!first) first = performance.now()
        sha.update(got + b.length > bytes ? b.subarray(0, bytes - got) : b)
        got += b.length
        if (got >= bytes) {
          s.off('data', onData)
          resolve()
        }
      }
      s.on('data', onData)
      s.once('error', reject)
      s.resume()
    }),
    60_000,
  )
  const ms = performance.now() - first
  s.write('k')
  return {
    role,
    bytes: got,
    ms: Math.round(ms),
    mbitPerS: +((got * 8) / ms / 1000).toFixed(1),
    sha256: sha.digest('hex'),
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    sleep(ms).then(() => {
      throw Object.assign(new Error('bulk transfer timed out'), { code: 'timeout' })
    }),
  ])
}
