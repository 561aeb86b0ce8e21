import { randomBytes } from 'node:crypto'
import type { Identity } from '@p2pd/identity'
import type { Signaling } from '@p2pd/interface'
import { NtpClock, SntpServer } from '@p2pd/ntp'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import { StunServer } from '@p2pd/stun'
import { TurnServer, type TurnServerConfig } from '@p2pd/turn'
import { type EmbeddedBroker, startBroker } from './broker.js'

/**
 * The embedded defaults: every server the strategies need, on loopback, without root — an
 * aedes MQTT broker, the RFC 5780 STUN server on 127.0.0.1 + 127.0.0.2, an SNTP server and a
 * TURN server (which must be allowed to relay to loopback peers here).
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
  const stun = new StunServer({ primaryHost: '127.0.0.1', alternateHost: '127.0.0.2' })
  const sntp = new SntpServer({ host: '127.0.0.1' })
  const turn = new TurnServer({
    host: '127.0.0.1',
    users: { demo: password },
    realm: 'p2pd.demo',
    allowLoopbackPeers: true,
  })
  const closers: Array<() => Promise<unknown>> = []
  try {
    const broker = await startBroker()
    closers.push(() => broker.close())
    await stun.start(options)
    closers.push(() => stun.close())
    const ntp = await sntp.start()
    closers.push(() => sntp.close())
    const turnAt = await turn.start(options)
    closers.push(() => turn.close())
    const clock = new NtpClock({ servers: [`${ntp.host}:${ntp.port}`], spacingMs: 50 })
    closers.push(async () => clock.stop())
    await clock.ready({ signal: options.signal, timeoutMs: 5_000 })
    const turnConfig: TurnServerConfig = {
      host: turnAt.host,
      port: turnAt.port,
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
        `SNTP                  ${ntp.host}:${ntp.port}  (clock offset ${clock.offset.toFixed(2)} ms ± ${clock.uncertainty.toFixed(2)} ms)`,
        `TURN                  ${turnAt.host}:${turnAt.port}  (user demo, realm p2pd.demo)`,
      ],
      close: async () => {
        await Promise.allSettled(closers.reverse().map((c) => c()))
      },
    }
  } catch (err) {
    await Promise.allSettled(closers.reverse().map((c) => c()))
    throw err
  }
}
