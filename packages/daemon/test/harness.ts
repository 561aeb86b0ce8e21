import { createNode, type P2pdNode } from '@p2pd/node'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import { type AedesBroker, startAedes } from '@p2pd/testkit/aedes'
import { type Daemon, type DaemonOptions, startDaemon } from '../src/index.js'

/** A real node on loopback (aedes broker for signaling) served by a real daemon on port 0. */
export interface Served {
  readonly node: P2pdNode
  readonly daemon: Daemon
  readonly token: string
  stop(): Promise<void>
}

export async function startBroker(): Promise<AedesBroker> {
  return startAedes()
}

export async function startServed(
  broker: AedesBroker,
  options: Partial<Omit<DaemonOptions, 'node'>> = {},
): Promise<Served> {
  const node = createNode({
    signaling: (identity) => mqttSignaling({ identity, brokers: [broker.url] }),
  })
  await node.start()
  const token = options.token ?? `t-${Math.random().toString(16).slice(2)}-0123456789abcdef`
  const daemon = await startDaemon({ port: 0, incoming: true, ...options, node, token })
  return {
    node,
    daemon,
    token,
    stop: async () => {
      await daemon.close()
      await node.stop()
    },
  }
}
