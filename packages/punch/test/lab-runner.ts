/**
 * natlab strategy runner `punch` (see `tools/natlab/src/runners/protocol.ts`): one side of a
 * trial, run by the lab inside the side's host namespace. A real p2pd node (`@p2pd/node`) with
 * `strategies: [punch()]`, MQTT signaling through the lab's mosquitto, coturn as the STUN
 * server (over TCP). Role A connects at the shared start; role B waits for the inbound pipe.
 * Both then prove the data path with the lab's hello exchange over the *authenticated* pipe.
 *
 * The NAT record each node announces comes from its lab profile (what `@p2pd/nat` discovery
 * will report once it lands). The namespaces share the host's kernel clock, so the clock is
 * the system clock with a declared uncertainty (option `clockUncertaintyMs`, default 5 ms).
 * Option `answerAndGo: false` turns answer-and-go off (the ready/ack round, for timings).
 */
import type { Socket } from 'node:net'
import { type Clock, type NatInfo, NatType } from '@p2pd/interface'
import {
  emit,
  errCode,
  exchangeHello,
  finish,
  runnerConfig,
  sleep,
  waitStart,
} from '../../../tools/natlab/src/runners/kit.js'
import { decodePeerAddress } from '../../address/src/index.js'
// @p2pd/node and @p2pd/signal-mqtt sit above punch in the dependency order: test code only.
import { createNode, type P2pdNode } from '../../node/src/index.js'
import { mqttSignaling } from '../../signal-mqtt/src/index.js'
import { type PunchEvent, punch } from '../src/index.js'

/** The NAT record a lab profile stands for. */
export function natOfProfile(profile: string): NatInfo {
  const kind = profile.split('+')[0]?.replace(/-(drop|rst)$/, '') ?? ''
  const d = (type: 1 | 2 | 4 | 6, value = 0) => ({ type, value })
  if (kind === 'open') return { type: NatType.OpenInternet, delta: d(1) }
  if (kind === 'full-cone') return { type: NatType.FullCone, delta: d(2) }
  if (kind === 'restricted') return { type: NatType.RestrictedCone, delta: d(2) }
  if (kind === 'port-restricted') return { type: NatType.PortRestrictedCone, delta: d(2) }
  if (kind === 'eim-range') return { type: NatType.PortRestrictedCone, delta: d(6) }
  const seq = /^sym-seq(\d*)$/.exec(kind)
  if (seq) return { type: NatType.Symmetric, delta: d(4, Number(seq[1] || 1)) }
  return { type: NatType.Symmetric, delta: d(6) }
}

const cfg = runnerConfig()
const strategyName = 'punch'
const stun = cfg.servers.coturn?.stun
const mqtt = cfg.servers.mosquitto?.mqtt?.extra?.url
if (!stun || !mqtt) throw new Error('the lab has no coturn/mosquitto')
const clock: Clock = {
  now: () => Date.now(),
  offset: 0,
  uncertainty: Number(cfg.options.clockUncertaintyMs ?? 5),
}
const events: (PunchEvent & { at: number })[] = []
const strategy = punch({
  stunServers: [{ host: stun.host, port: stun.port }],
  onEvent: (e) => events.push({ ...e, at: Date.now() }),
  // Option `answerAndGo: false`: the ready/ack round (for before/after timings).
  answerAndGo: cfg.options.answerAndGo !== false,
})
const node: P2pdNode = createNode({
  signaling: (identity) => mqttSignaling({ identity, brokers: [mqtt], redundancy: 1 }),
  strategies: [strategy],
  listen: { host: '0.0.0.0' },
  interfaces: [
    { ext: cfg.self.publicIp, nic: cfg.self.hostIp, nat: natOfProfile(cfg.self.profile) },
  ],
  clock,
  machineId: `lab${cfg.self.label}`,
  connectTimeoutMs: 15_000,
})
const detail = () => ({ events })

try {
  await node.start()
} catch (err) {
  emit({ type: 'ready', info: {} })
  finish({ ok: false, strategy: strategyName, error: `start: ${errCode(err)}` })
}
emit({ type: 'ready', info: { address: node.addressText } })
const start = await waitStart()
const peerText = String(start.peer.address ?? '')

async function incoming() {
  for await (const p of node.incoming) return p
  throw new Error('node stopped')
}

try {
  const remote = decodePeerAddress(peerText)
  const verdict = strategy.canTry(node.address, remote)
  if (verdict !== true) {
    finish({ ok: false, strategy: strategyName, error: verdict, detail: detail() })
  }
  await sleep(start.startAt - Date.now())
  const pipe =
    cfg.role === 'A'
      ? await node.connect(remote)
      : await Promise.race([
          incoming(),
          sleep(14_000).then(() => {
            throw Object.assign(new Error('no inbound pipe'), { code: 'timeout' })
          }),
        ])
  const connectedAt = Date.now()
  await exchangeHello(pipe as unknown as Socket, cfg.role, start.nonce, 3000)
  finish({
    ok: true,
    strategy: pipe.strategy,
    connectedAt,
    local: `${pipe.path.local.host}:${pipe.path.local.port}`,
    remote: `${pipe.path.remote.host}:${pipe.path.remote.port}`,
    detail: detail(),
  })
} catch (err) {
  const report = (err as { report?: unknown }).report
  finish({
    ok: false,
    strategy: strategyName,
    error: errCode(err),
    detail: { ...detail(), report },
  })
}
