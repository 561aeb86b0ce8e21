import { createSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import { isP2pdError, MemorySignalingHub } from '@p2pd/interface'
import { createNode, type NodeHealth, stunInterfaces } from '@p2pd/node'
import { StunServer } from '@p2pd/stun'
import type { Scenario, ScenarioResult } from '../scenario.js'

/** A UDP and a TCP port on 127.0.0.1 that swallow everything: a STUN server that is down. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const udp = createSocket('udp4')
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r))
  const port = udp.address().port
  const sockets = new Set<Socket>()
  const tcp: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(port, '127.0.0.1', resolve)
  })
  let closed = false
  return {
    port,
    close: async () => {
      if (closed) return
      closed = true
      udp.close()
      for (const s of sockets) s.destroy()
      await new Promise((r) => tcp.close(r))
    },
  }
}

/**
 * Every STUN server down at start: `start()` must settle by its deadline and say the node is
 * degraded (event + field), strict mode must refuse, and the node must come back to health
 * when the server does.
 */
const stunDownAtStart: Scenario = {
  group: 'faults',
  name: 'STUN down at start',
  async run({ short, log }): Promise<ScenarioResult[]> {
    const trials = short ? 1 : 5
    const startTimeoutMs = 3_000
    const hole = await blackHole()
    const results: ScenarioResult[] = []
    const hub = new MemorySignalingHub()
    const mk = (strict: boolean) =>
      createNode({
        signaling: (id) => hub.connect(id.nodeId),
        listen: { host: '127.0.0.1' },
        interfaces: stunInterfaces({ stunServers: [`127.0.0.1:${hole.port}`], families: [4] }),
        startTimeoutMs,
        strict,
        networkCheckMs: 0,
      })
    const times: number[] = []
    let degradedSeen = 0
    let strictRefused = 0
    try {
      for (let i = 0; i < trials; i++) {
        const node = mk(false)
        let event: NodeHealth | undefined
        node.on('degraded', (h) => {
          event = h
        })
        const t0 = performance.now()
        await node.start().catch((e: Error) => log(`  start failed: ${e.message}`))
        times.push(performance.now() - t0)
        if (event && node.health.status === 'degraded') degradedSeen++
        log(`  trial ${i + 1}: start ${times.at(-1)?.toFixed(0)} ms, ${node.health.status}`)
        await node.stop()
        const strict = mk(true)
        const err = await strict.start().catch((e: unknown) => e)
        log(`  strict: ${(err as Error | undefined)?.message ?? 'started'}`)
        if (isP2pdError(err, 'NODE_DEGRADED')) strictRefused++
        await strict.stop()
        log('  strict stopped')
      }
      const worst = Math.max(...times)
      results.push({
        name: 'start with every STUN server silent',
        attempts: trials * 2,
        fault: 'STUN server swallows UDP and TCP',
        outcome: `start settled in ≤ ${worst.toFixed(0)} ms (deadline ${startTimeoutMs}); degraded reported ${degradedSeen}/${trials}; strict refused ${strictRefused}/${trials}`,
        bar: 'settles by the start deadline + 10 %; degraded event and field; strict rejects NODE_DEGRADED',
        pass: worst <= startTimeoutMs * 1.1 && degradedSeen === trials && strictRefused === trials,
        figures: { worstStartMs: Math.round(worst), degradedSeen, strictRefused, trials },
      })

      // Recovery: the server comes back on the same port; the next refresh is healthy again.
      const node = mk(false)
      await node.start()
      await hole.close()
      const stun = new StunServer({ primaryPort: hole.port, alternatePort: 0 })
      await stun.start()
      const t0 = performance.now()
      try {
        await node.refreshAddress()
        const recoveryMs = performance.now() - t0
        const healthy = node.health.status === 'ok' && node.address.ip4.length > 0
        results.push({
          name: 'STUN server back: next refresh',
          attempts: 1,
          fault: 'STUN server restarted on its port',
          outcome: `health ${node.health.status}, ${node.address.ip4.length} IPv4 interface(s) announced`,
          bar: 'health returns to ok with interfaces on the next refresh',
          pass: healthy,
          recoveryMs,
        })
      } finally {
        await node.stop()
        await stun.close()
      }
    } finally {
      await hole.close()
    }
    return results
  },
}

export default [stunDownAtStart] satisfies Scenario[]
