/**
 * Baseline runner `tcp-simopen`: plain TCP simultaneous open, no p2pd code.
 *
 * 1. Learn the public mapping of a local port L twice, via the lab's "seen" service on two
 *    observers (like a STUN binding over TCP): m1, m2. Equal → endpoint-independent: predict m2.
 *    Different → predict once: m2 + (m2 − m1) (right for a sequential NAT, wrong for random).
 * 2. At the shared start time (plus this side's skew) connect from L to the peer's prediction.
 * 3. On RST (ECONNREFUSED) retry from L after a jittered interval (`retryMs` ± 50 %), until
 *    `deadlineMs`; with `retryOnRst: false` the first RST ends the attempt (the probes use this
 *    to show the physics). A SYN that is silently dropped simply stays in SYN_SENT and the
 *    kernel retransmits it.
 *
 * Options: `retryOnRst` (default true), `retryMs` (default 20), `deadlineMs` (default 3000),
 * `predict` (`auto` default, `none` = use m2 as is).
 */
import type { Socket } from 'node:net'
import {
  connect,
  emit,
  errCode,
  exchangeHello,
  finish,
  fmt,
  type HostPort,
  parseHostPort,
  randomLocalPort,
  runnerConfig,
  seenTcp,
  sleep,
  waitStart,
} from './kit.js'

const cfg = runnerConfig()
const retryOnRst = cfg.options.retryOnRst !== false
const retryMs = Number(cfg.options.retryMs ?? 20)
const deadlineMs = Number(cfg.options.deadlineMs ?? 3000)
const predictMode = String(cfg.options.predict ?? 'auto')
const strategy = 'tcp-simopen'
const seen = cfg.servers.seen
if (!seen?.seen1 || !seen.seen2) throw new Error('the lab has no seen service')

const L = randomLocalPort()
const probes: Socket[] = []
let m1: HostPort
let m2: HostPort
try {
  const a = await seenTcp(seen.seen1, L)
  probes.push(a.socket)
  const b = await seenTcp(seen.seen2, L)
  probes.push(b.socket)
  m1 = a.mapped
  m2 = b.mapped
} catch (err) {
  emit({ type: 'ready', info: {} })
  finish({ ok: false, strategy, error: `discovery: ${errCode(err)}` })
}
const delta = m2.port - m1.port
const predicted: HostPort =
  predictMode === 'none' || delta === 0 ? m2 : { host: m2.host, port: m2.port + delta }
emit({ type: 'ready', info: { predicted: fmt(predicted), local: `${cfg.self.hostIp}:${L}` } })

const start = await waitStart()
const target = parseHostPort(String(start.peer.predicted))
await sleep(start.startAt - Date.now())
const deadline = Date.now() + deadlineMs
let attempts = 0
const errors: Record<string, number> = {}
const detail = () => ({
  attempts,
  errors,
  m1: fmt(m1),
  m2: fmt(m2),
  predicted: fmt(predicted),
  target: fmt(target),
})

while (Date.now() < deadline) {
  attempts++
  try {
    const s = await connect(target, { localPort: L, timeoutMs: deadline - Date.now() })
    const connectedAt = Date.now()
    await exchangeHello(s, cfg.role, start.nonce, 2000)
    for (const p of probes) p.destroy()
    finish({
      ok: true,
      strategy,
      connectedAt,
      local: `${s.localAddress}:${s.localPort}`,
      remote: `${s.remoteAddress}:${s.remotePort}`,
      detail: detail(),
    })
  } catch (err) {
    const code = errCode(err)
    errors[code] = (errors[code] ?? 0) + 1
    if (code !== 'ECONNREFUSED' || !retryOnRst) {
      finish({
        ok: false,
        strategy,
        error: code === 'ETIMEDOUT' ? 'timeout' : code,
        detail: detail(),
      })
    }
    // Jittered: two fixed-period loops keep a constant phase and may never overlap.
    await sleep(retryMs * (0.5 + Math.random()))
  }
}
finish({ ok: false, strategy, error: 'timeout', detail: detail() })
