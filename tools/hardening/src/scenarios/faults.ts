import { once } from 'node:events'
import type { Socket } from 'node:net'
import { isP2pdError, MemorySignalingHub, type Pipe, sleep } from '@p2pd/interface'
import { createNode, direct, reverse } from '@p2pd/node'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import { MissingServerError } from '@p2pd/testkit'
import { startMosquitto } from '@p2pd/testkit/mosquitto'
import { echoRoundTrip } from '@p2pd/testkit/pipes'
import { isRelayLost, TurnServer, turn } from '@p2pd/turn'
import type { Scenario, ScenarioResult } from '../scenario.js'
import { transfer, until } from '../transfer.js'

/** The bar for a broken path: both ends hear of it within this (ms). */
const DETECT_BOUND_MS = 5_000
/** The bar for a relay fault: the connecting node has a working pipe again within this (ms). */
const RECOVER_BOUND_MS = 10_000

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number)
}
const worst = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : Math.max(...xs))
const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : 'never')

// ---------------------------------------------------------------------------------------------
// TURN server killed / restarted under a relayed transfer

/**
 * `rounds` times: two nodes whose only strategy is TURN through one of our servers connect
 * (`reconnect: true`) and move bytes; the server is closed mid-transfer and started again on
 * the same port after `downMs`. Measures when each end's pipe fails (and that it says
 * `TURN_RELAY_LOST`), and when the connecting node has a new pipe that carries a round trip.
 */
function relayFault(name: string, fault: string, downMs: { short: number; full: number }) {
  return {
    group: 'faults',
    name,
    async run({ short, signal, log }): Promise<ScenarioResult[]> {
      const rounds = short ? 1 : 5
      const down = short ? downMs.short : downMs.full
      const detect: number[] = []
      const recover: number[] = []
      let typed = 0
      let recovered = 0
      let undetectedLoss = 0
      let acceptedNotDelivered = 0
      for (let round = 0; round < rounds; round++) {
        const users = { p2pd: 'relay-fault' }
        let server = new TurnServer({ users, allowLoopbackPeers: true })
        const { port } = await server.start()
        const hub = new MemorySignalingHub()
        const servers = [{ host: '127.0.0.1', port, username: 'p2pd', password: 'relay-fault' }]
        const mk = () =>
          createNode({
            signaling: (id) => hub.connect(id.nodeId),
            listen: { host: '127.0.0.1' },
            strategies: [turn({ servers, client: { rtoMs: 100 } })],
            networkCheckMs: 0,
          })
        const a = mk()
        const b = mk()
        const inbound: Pipe[] = []
        b.on('pipe', (p) => {
          p.on('error', () => {}) // measured through transfer(); expected here
          inbound.push(p)
        })
        a.on('reconnected', (e) => e.pipe.on('error', () => {}))
        try {
          await Promise.all([a.start(), b.start()])
          const pipe = await a.connect(b.addressText, { reconnect: true })
          await until(() => inbound.length > 0, 5_000, signal)
          const far = inbound[0] as Pipe
          const t = transfer(pipe, far)
          await t.flowing(256 * 1024, signal)
          const reconnected = once(a, 'reconnected', { signal })
          const secondInbound = until(() => inbound.length > 1, 30_000, signal)
          const t0 = performance.now()
          await server.close()
          if (down > 0) await sleep(down, signal)
          server = new TurnServer({ users, allowLoopbackPeers: true, port })
          await server.start()
          await until(() => !!t.state.writerEnd && !!t.state.readerEnd, 8_000, signal)
          t.stop()
          const ends = [t.state.writerEnd, t.state.readerEnd]
          const times = ends.map((e) => (e ? e.at - t0 : Number.POSITIVE_INFINITY))
          detect.push(...times)
          if (ends.every((e) => isRelayLost(e?.error))) typed++
          const lostBytes = t.state.accepted - t.state.delivered
          acceptedNotDelivered += Math.max(0, lostBytes)
          if (!ends.every((e) => e?.error)) undetectedLoss += Math.max(0, lostBytes)
          const newPipe = await Promise.race([
            reconnected.then(([e]) => (e as { pipe: Pipe }).pipe),
            sleep(RECOVER_BOUND_MS + 5_000, signal).then(() => undefined),
          ])
          await secondInbound
          const newFar = inbound[1]
          if (newPipe && newFar) {
            const r = await echoRoundTrip(newPipe, newFar, 64 * 1024)
            if (r.received === r.sent) {
              recovered++
              recover.push(performance.now() - t0)
            }
          }
          log(
            `${name} #${round + 1}: ends failed after ${times.map(ms).join(' / ')}, ` +
              `recovered ${recover.length > 0 ? ms(recover.at(-1) as number) : 'no'}`,
          )
        } finally {
          await Promise.allSettled([a.stop(), b.stop()])
          await server.close()
        }
      }
      const pass =
        typed === rounds &&
        worst(detect) < DETECT_BOUND_MS &&
        recovered === rounds &&
        worst(recover) < RECOVER_BOUND_MS &&
        undetectedLoss === 0
      return [
        {
          name,
          attempts: rounds,
          fault,
          outcome:
            `${typed}/${rounds} rounds: both ends failed with TURN_RELAY_LOST, median ` +
            `${ms(median(detect))}, worst ${ms(worst(detect))}; new pipe with a good round trip ` +
            `${recovered}/${rounds}, median ${ms(median(recover))} after the fault`,
          bar:
            `both ends fail with TURN_RELAY_LOST < ${DETECT_BOUND_MS / 1000} s; with ` +
            `reconnect a working pipe < ${RECOVER_BOUND_MS / 1000} s; no undetected loss`,
          pass,
          recoveryMs: Math.round(median(recover)),
          dataLostBytes: undetectedLoss,
          figures: {
            rounds,
            downMs: down,
            detectMedianMs: Math.round(median(detect)),
            detectWorstMs: Math.round(worst(detect)),
            typedRounds: typed,
            recoveredRounds: recovered,
            recoverWorstMs: Math.round(worst(recover)),
            acceptedNotDeliveredBytes: acceptedNotDelivered,
          },
        },
      ]
    },
  } satisfies Scenario
}

// ---------------------------------------------------------------------------------------------
// Peer killed under a direct transfer

/**
 * `rounds` times: the responder writes to the connecting node over a direct pipe; the
 * connecting node "dies": its TCP socket is reset and dropped, as the kernel does for a killed
 * process with unread data. Measures when the writer's pipe fails and how many accepted bytes
 * never arrived without the writer being told.
 */
const peerKilled = {
  group: 'faults',
  name: 'peer killed mid-transfer (direct pipe)',
  async run({ short, signal, log }): Promise<ScenarioResult[]> {
    const rounds = short ? 2 : 10
    const detect: number[] = []
    let typed = 0
    let undetectedLoss = 0
    let acceptedNotDelivered = 0
    for (let round = 0; round < rounds; round++) {
      const hub = new MemorySignalingHub()
      const sockets: Socket[] = []
      const inner = direct()
      // The connecting side's raw socket, to kill it the way a crash would.
      const spy = {
        ...inner,
        async connect(...args: Parameters<typeof inner.connect>) {
          const raw = await inner.connect(...args)
          sockets.push(raw.stream as Socket)
          return raw
        },
      }
      const mk = (strategies: ReturnType<typeof direct>[]) =>
        createNode({
          signaling: (id) => hub.connect(id.nodeId),
          listen: { host: '127.0.0.1' },
          strategies,
          networkCheckMs: 0,
        })
      const a = mk([spy])
      const b = mk([direct()])
      const inbound: Pipe[] = []
      b.on('pipe', (p) => inbound.push(p))
      try {
        await Promise.all([a.start(), b.start()])
        const pipe = await a.connect(b.addressText, { strategies: [spy] })
        pipe.on('error', () => {}) // the killed side: its errors are not the point
        await until(() => inbound.length > 0, 5_000, signal)
        const t = transfer(inbound[0] as Pipe, pipe)
        await t.flowing(512 * 1024, signal)
        const t0 = performance.now()
        const delivered = t.state.delivered
        for (const s of sockets) s.resetAndDestroy()
        await until(() => !!t.state.writerEnd, DETECT_BOUND_MS + 5_000, signal)
        t.stop()
        const end = t.state.writerEnd
        const took = end ? end.at - t0 : Number.POSITIVE_INFINITY
        detect.push(took)
        if (end?.error && isP2pdError(end.error)) typed++
        const lost = Math.max(0, t.state.accepted - delivered)
        acceptedNotDelivered += lost
        if (!end?.error) undetectedLoss += lost
        log(`peer killed #${round + 1}: writer failed after ${ms(took)} (${end?.error?.message})`)
      } finally {
        await Promise.allSettled([a.stop(), b.stop()])
      }
    }
    const pass = typed === rounds && worst(detect) < DETECT_BOUND_MS && undetectedLoss === 0
    return [
      {
        name: 'peer killed mid-transfer (direct pipe)',
        attempts: rounds,
        fault: 'the reading peer’s TCP socket reset mid-transfer (as a killed process)',
        outcome:
          `${typed}/${rounds}: the writer’s pipe failed with a typed error, median ` +
          `${ms(median(detect))}, worst ${ms(worst(detect))}; ${acceptedNotDelivered} bytes ` +
          `accepted but not delivered, all behind an error`,
        bar:
          `the writer fails with a typed error < ${DETECT_BOUND_MS / 1000} s; ` +
          'no undetected loss',
        pass,
        dataLostBytes: undetectedLoss,
        figures: {
          rounds,
          detectMedianMs: Math.round(median(detect)),
          detectWorstMs: Math.round(worst(detect)),
          typedRounds: typed,
          acceptedNotDeliveredBytes: acceptedNotDelivered,
        },
      },
    ]
  },
} satisfies Scenario

// ---------------------------------------------------------------------------------------------
// MQTT broker killed while the nodes are idle, then restarted

/**
 * Two idle nodes on one mosquitto; the broker is killed, a connect is tried during the outage
 * (it must fail with a typed error within its deadline), the broker comes back on the same
 * port, and reverse connects (which need signaling) are retried until one works.
 */
const brokerRestart = {
  group: 'faults',
  name: 'MQTT broker killed while idle, then restarted',
  async run({ short, signal, log }): Promise<ScenarioResult[]> {
    const downMs = short ? 1_000 : 5_000
    const connectTimeoutMs = 3_000
    // Signaling reconnects with a doubling backoff (1 s, 2 s, 4 s… each × 0.5–1): the first
    // attempt after an outage of D lands by 2·D + 1 s; one more second for the connect.
    const recoverBoundMs = 2 * downMs + 2_000
    let broker: Awaited<ReturnType<typeof startMosquitto>>
    try {
      broker = await startMosquitto()
    } catch (err) {
      if (!(err instanceof MissingServerError)) throw err
      return [missingBroker(err)]
    }
    const mk = () =>
      createNode({
        signaling: (identity) =>
          mqttSignaling({ identity, brokers: [broker.url], connectTo: [0], startTimeoutMs: 5_000 }),
        strategies: [reverse()],
        listen: { host: '127.0.0.1' },
        networkCheckMs: 0,
      })
    const a = mk()
    const b = mk()
    b.on('pipe', (p) => void p.close().catch(() => {}))
    const tryConnect = async () => {
      const t0 = performance.now()
      try {
        const pipe = await a.connect(b.addressText, { timeoutMs: connectTimeoutMs })
        await pipe.close()
        return { ok: true, ms: performance.now() - t0, code: 'ok' }
      } catch (err) {
        if (!isP2pdError(err)) throw err
        return { ok: false, ms: performance.now() - t0, code: err.code }
      }
    }
    try {
      await Promise.all([a.start(), b.start()])
      const before = await tryConnect()
      await broker.kill()
      const killedAt = performance.now()
      const during = await tryConnect()
      const rest = downMs - (performance.now() - killedAt)
      if (rest > 0) await sleep(rest, signal)
      await broker.restart()
      const restartedAt = performance.now()
      let after = { ok: false, ms: 0, code: 'not tried' }
      let tries = 0
      while (!after.ok && performance.now() - restartedAt < 30_000) {
        tries++
        after = await tryConnect()
        if (!after.ok) await sleep(250, signal)
      }
      const recoveryMs = performance.now() - restartedAt
      log(
        `broker: before ${before.ok}, during outage ${during.code} in ${ms(during.ms)}, ` +
          `after restart ok in ${ms(recoveryMs)} (${tries} tries)`,
      )
      const pass =
        before.ok &&
        !during.ok &&
        during.ms < connectTimeoutMs + 1_000 &&
        after.ok &&
        recoveryMs < recoverBoundMs
      return [
        {
          name: `broker down ${downMs / 1000} s while idle`,
          attempts: 1,
          fault: 'mosquitto killed while both nodes idle, restarted on the same port',
          outcome:
            `connect during the outage: ${during.code} after ${ms(during.ms)}; after the restart ` +
            `a reverse connect works ` +
            (after.ok ? `in ${ms(recoveryMs)} (${tries} tries)` : 'never'),
          bar:
            `a connect in the outage fails typed within its deadline; one works again ` +
            `< ${recoverBoundMs / 1000} s after the restart (2 × outage + 2 s: the backoff)`,
          pass,
          recoveryMs: Math.round(recoveryMs),
          figures: {
            downMs,
            recoverBoundMs,
            duringCode: during.code,
            duringMs: Math.round(during.ms),
            recoveryTries: tries,
            beforeOk: before.ok,
            afterOk: after.ok,
          },
        },
      ]
    } finally {
      await Promise.allSettled([a.stop(), b.stop()])
      await broker.stop()
    }
  },
} satisfies Scenario

function missingBroker(err: Error): ScenarioResult {
  return {
    name: 'broker restart',
    attempts: 0,
    fault: 'mosquitto killed and restarted',
    outcome: `not run: ${err.message}`,
    bar: 'needs mosquitto (a missing server is a failure, never a skip)',
    pass: false,
  }
}

export default [
  relayFault('TURN server killed mid-transfer', 'TURN server closed, back on its port after 2 s', {
    short: 2_000,
    full: 2_000,
  }),
  relayFault('TURN server restarted mid-stream', 'TURN server closed and started again at once', {
    short: 0,
    full: 0,
  }),
  peerKilled,
  brokerRestart,
] satisfies Scenario[]
