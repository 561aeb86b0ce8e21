/**
 * Baseline runner `tcp-direct`: B listens on a fixed port, A connects to B's public address at
 * that port. No NAT traversal at all: it succeeds only when B is reachable as is (open, or a
 * port forward). Options: `port` (default 7700), `deadlineMs` (default 3000).
 */
import { createServer } from 'node:net'
import {
  connect,
  emit,
  errCode,
  exchangeHello,
  finish,
  runnerConfig,
  sleep,
  waitStart,
} from './kit.js'

const cfg = runnerConfig()
const port = Number(cfg.options.port ?? 7700)
const deadlineMs = Number(cfg.options.deadlineMs ?? 3000)
const strategy = 'tcp-direct'

if (cfg.role === 'B') {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(port, cfg.self.hostIp, resolve))
  emit({ type: 'ready', info: { listen: `${cfg.self.publicIp}:${port}` } })
  const start = await waitStart()
  const timer = setTimeout(
    () => finish({ ok: false, strategy, error: 'no inbound connection' }),
    start.startAt - Date.now() + deadlineMs,
  )
  server.on('connection', async (s) => {
    s.on('error', () => {})
    const connectedAt = Date.now()
    try {
      await exchangeHello(s, 'B', start.nonce, 2000)
      clearTimeout(timer)
      finish({
        ok: true,
        strategy,
        connectedAt,
        local: `${s.localAddress}:${s.localPort}`,
        remote: `${s.remoteAddress}:${s.remotePort}`,
      })
    } catch (err) {
      s.destroy()
      finish({ ok: false, strategy, error: errCode(err) })
    }
  })
} else {
  emit({ type: 'ready', info: {} })
  const start = await waitStart()
  const [host, p] = String(start.peer.listen).split(':')
  await sleep(start.startAt - Date.now())
  try {
    const s = await connect({ host: host as string, port: Number(p) }, { timeoutMs: deadlineMs })
    const connectedAt = Date.now()
    await exchangeHello(s, 'A', start.nonce, 2000)
    finish({
      ok: true,
      strategy,
      connectedAt,
      local: `${s.localAddress}:${s.localPort}`,
      remote: `${s.remoteAddress}:${s.remotePort}`,
    })
  } catch (err) {
    finish({ ok: false, strategy, error: errCode(err) })
  }
}
