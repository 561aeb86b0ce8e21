import type { ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll } from 'vitest'
import { type LoopbackInfra, startLoopbackInfra } from './loopback.js'
import { type Finished, finished, startCli, waitForLine } from './spawn.js'

/** The loopback infrastructure and an HTTP service for the tunnel tests. */
export interface TunnelWorld {
  readonly infra: LoopbackInfra
  /** Port of the HTTP service on 127.0.0.1: it answers `METHOD URL BODY_LENGTH`. */
  readonly webPort: number
}

/**
 * Starts the loopback infrastructure and the HTTP service in `beforeAll`, stops both in
 * `afterAll`; the fields are read inside tests.
 */
export function useTunnelWorld(): TunnelWorld {
  let infra: LoopbackInfra | undefined
  let web: Server | undefined
  let webPort = 0
  beforeAll(async () => {
    infra = await startLoopbackInfra()
    const server = createServer((req, res) => {
      let length = 0
      req.on('data', (d: Buffer) => {
        length += d.length
      })
      req.on('end', () => res.end(`${req.method} ${req.url} ${length}`))
    })
    web = server
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    webPort = (server.address() as { port: number }).port
  })
  afterAll(async () => {
    // Keep-alive connections a forwarder left open would hold close() up.
    web?.closeAllConnections()
    web?.close()
    await infra?.close()
  })
  return {
    get infra() {
      if (!infra) throw new Error('useTunnelWorld: beforeAll has not run')
      return infra
    },
    get webPort() {
      return webPort
    },
  }
}

/** Both tunnel processes and what they print until they exit. */
export interface TunnelPair {
  readonly server: ChildProcess
  readonly serverDone: Promise<Finished>
  readonly client: ChildProcess
  readonly clientDone: Promise<Finished>
  /** Where the forwarder listens on 127.0.0.1. */
  readonly port: number
}

/**
 * `p2pd tunnel --expose <webPort>` and `p2pd tunnel <its address> --local 127.0.0.1:0`, each
 * with its own config directory, once the forwarder says where it listens.
 */
export async function startTunnelPair(world: TunnelWorld): Promise<TunnelPair> {
  const { infra, webPort } = world
  const server = startCli(['tunnel', '--expose', String(webPort), ...infra.flags], {
    XDG_CONFIG_HOME: `${infra.dir}/a`,
  })
  const serverDone = finished(server)
  let client: ChildProcess | undefined
  try {
    const address = (await waitForLine(server, /^address: /)).slice('address: '.length)
    client = startCli(['tunnel', address, '--local', '127.0.0.1:0', ...infra.flags], {
      XDG_CONFIG_HOME: `${infra.dir}/b`,
    })
    const clientDone = finished(client)
    const line = await waitForLine(client, /^forwarding 127\.0\.0\.1:\d+ /)
    const port = Number(/:(\d+) /.exec(line)?.[1])
    return { server, serverDone, client, clientDone, port }
  } catch (err) {
    // Not started as a pair: leave no process behind.
    server.kill('SIGKILL')
    client?.kill('SIGKILL')
    throw err
  }
}
