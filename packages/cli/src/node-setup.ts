import { type Clock, systemClock } from '@p2pd/interface'
import { nameResolver } from '@p2pd/names'
import { createNode, direct, type P2pdNode, reverse, stunInterfaces } from '@p2pd/node'
import { NtpClock } from '@p2pd/ntp'
import { punch } from '@p2pd/punch'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import { turn } from '@p2pd/turn'
import type { Io } from './command.js'
import type { P2pdConfig } from './config.js'
import { describeError } from './describe-error.js'
import { loadKey } from './paths.js'

/** How long start may spend syncing the clock before it goes on with the system clock. */
const CLOCK_BUDGET_MS = 3_000

export interface RunningNode {
  readonly node: P2pdNode
  /** The full peer address to hand to the other side. */
  readonly address: string
  stop(): Promise<void>
}

/**
 * Starts a node from the effective config: its key, an NTP-synced clock (or the system clock
 * if no server answers within a short budget), MQTT signaling over every broker at once, the
 * interfaces STUN reports (or loopback only), and the strategies direct, reverse, TCP hole
 * punching and — only when configured — TURN.
 */
export async function startNode(
  config: P2pdConfig,
  io: Io,
  options: { allow?: readonly string[]; verbose?: boolean } = {},
): Promise<RunningNode> {
  const log = options.verbose ? (m: string) => io.err(`· ${m}`) : undefined
  const identity = await loadKey(config.key)
  const clock = await syncedClock(config.ntp, io)
  const allowed = options.allow && options.allow.length > 0 ? new Set(options.allow) : undefined
  const node = createNode({
    identity,
    clock,
    signaling: (id) => mqttSignaling({ identity: id, brokers: [...config.brokers] }),
    // connect('alice.<fingerprint>') looks the name up on the same brokers.
    names: nameResolver({ brokers: [...config.brokers], clock }),
    strategies: [
      direct(),
      reverse(),
      punch({ stunServers: [...config.stun.tcp] }),
      ...(config.turn.length > 0 ? [turn({ servers: [...config.turn] })] : []),
    ],
    ...(config.interfaces === 'discover'
      ? { interfaces: stunInterfaces({ stunServers: [...config.stun.classify], log }) }
      : {}),
    listen: { port: config.listenPort },
    connectTimeoutMs: config.timeoutMs,
    ...(allowed ? { allow: (peer: string) => allowed.has(peer) } : {}),
    ...(log ? { log } : {}),
  })
  node.on('degraded', (h) => io.err(`p2pd: warning: ${h.problems.join('; ')}`))
  node.on('error', (err) => io.err(`p2pd: ${describeError(err)}`))
  try {
    const address = await node.start()
    return {
      node,
      address,
      stop: async () => {
        await node.stop()
        if (clock instanceof NtpClock) clock.stop()
      },
    }
  } catch (err) {
    await node.stop().catch(() => {})
    if (clock instanceof NtpClock) clock.stop()
    throw err
  }
}

async function syncedClock(servers: readonly string[], io: Io): Promise<Clock> {
  if (servers.length === 0) return systemClock
  // Two samples per server, 1 s apart, all servers at once: enough for a first estimate
  // inside the start budget, and a polite burst for public servers.
  const clock = new NtpClock({
    servers: [...servers],
    samplesPerServer: 2,
    spacingMs: 1_000,
    timeoutMs: CLOCK_BUDGET_MS - 500,
  })
  try {
    await clock.ready({ timeoutMs: CLOCK_BUDGET_MS })
    return clock
  } catch (err) {
    clock.stop()
    io.err(`p2pd: warning: no NTP server answered (${describeError(err)}); using the system clock`)
    return systemClock
  }
}
