import { randomBytes } from 'node:crypto'
import type { Identity } from '@p2pd/identity'
import type { Signaling } from '@p2pd/interface'
import { NtpClock, type SntpServer } from '@p2pd/ntp'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import type { StunServer } from '@p2pd/stun'
import type { TurnServer, TurnServerConfig } from '@p2pd/turn'
import type { EmbeddedBroker } from './broker.js'
import { startServers } from './servers.js'

/**
 * The embedded defaults: every server the strategies need, on loopback, without root — an
 * aedes MQTT broker, the RFC 5780 STUN server on 127.0.0.1 + 127.0.0.2, an SNTP server and a
 * TURN server (which must be allowed to relay to loopback peers here). The same servers
 * `p2pd infra` runs, on free loopback ports.
 */
export interface Infra {
  readonly broker: EmbeddedBroker
  readonly stun: StunServer
  readonly sntp: SntpServer
  readonly turn: TurnServer
  /** Credentials for the embedded TURN server. */
  readonly turnConfig: TurnServerConfig
  /** A clock synchronised against the embedded SNTP server. */
  readonly clock: NtpClock
  /** Signaling factory for a node (given its identity). */
  readonly signaling: (identity: Identity) => Signaling
  describe(): string[]
  close(): Promise<void>
}

export async function startInfra(options: { signal?: AbortSignal } = {}): Promise<Infra> {
  const password = randomBytes(12).toString('hex')
  const servers = await startServers(
    {
      host: '127.0.0.1',
      alternate: '127.0.0.2',
      ports: { mqtt: 0, stun: 0, stunAlt: 0, ntp: 0, turn: 0 },
      realm: 'p2pd.demo',
      users: { demo: password },
      peers: { allowLoopbackPeers: true },
    },
    options,
  )
  const { broker, sntp, turn, ports } = servers
  const stun = servers.stun as StunServer
  const clock = new NtpClock({ servers: [`127.0.0.1:${ports.ntp}`], spacingMs: 50 })
  try {
    await clock.ready({ signal: options.signal, timeoutMs: 5_000 })
  } catch (err) {
    clock.stop()
    await servers.close()
    throw err
  }
  const turnConfig: TurnServerConfig = {
    host: '127.0.0.1',
    port: ports.turn,
    username: 'demo',
    password,
  }
  return {
    broker,
    stun,
    sntp,
    turn,
    turnConfig,
    clock,
    signaling: (identity) => mqttSignaling({ identity, brokers: [broker.url] }),
    describe: () => [
      `MQTT broker (aedes)   ${broker.url}`,
      `STUN (RFC 5780)       ${stun.primary.host}:${stun.primary.port} + ${stun.other.host}:${stun.other.port}`,
      `SNTP                  127.0.0.1:${ports.ntp}  (clock offset ${clock.offset.toFixed(2)} ms ± ${clock.uncertainty.toFixed(2)} ms)`,
      `TURN                  127.0.0.1:${ports.turn}  (user demo, realm p2pd.demo)`,
    ],
    close: async () => {
      clock.stop()
      await servers.close()
    },
  }
}
