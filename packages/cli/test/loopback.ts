import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SntpServer } from '@p2pd/ntp'
import { StunServer } from '@p2pd/stun'
import { type AedesBroker, startAedes } from '@p2pd/testkit/aedes'

/**
 * The "public" infrastructure of the CLI tests, all on loopback: an aedes broker, an RFC 5780
 * STUN server and an SNTP server. `flags` points a node at them (and only at them), `env`
 * gives each spawned command a private config directory, so no test ever reads the user's
 * key or config nor contacts a public server.
 */
export interface LoopbackInfra {
  readonly flags: string[]
  readonly env: NodeJS.ProcessEnv
  readonly dir: string
  readonly broker: AedesBroker
  close(): Promise<void>
}

export async function startLoopbackInfra(): Promise<LoopbackInfra> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pd-cli-'))
  const broker = await startAedes()
  const stun = new StunServer({ primaryHost: '127.0.0.1', alternateHost: '127.0.0.2' })
  await stun.start()
  const sntp = new SntpServer({ host: '127.0.0.1' })
  const ntp = await sntp.start()
  return {
    dir,
    broker,
    flags: [
      '--broker',
      broker.url,
      '--stun',
      `127.0.0.1:${stun.primary.port}`,
      '--ntp',
      `${ntp.host}:${ntp.port}`,
      '--interfaces',
      'loopback',
    ],
    env: { XDG_CONFIG_HOME: dir, P2PD_CONFIG: '', P2PD_KEY: '' },
    close: async () => {
      await Promise.allSettled([broker.close(), stun.close(), sntp.close()])
      await rm(dir, { recursive: true, force: true })
    },
  }
}
