import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackInfra, startLoopbackInfra } from './loopback.js'
import { finished, startCli, waitForLine } from './spawn.js'

describe('p2pd tunnel (two processes, loopback servers)', () => {
  let infra: LoopbackInfra
  let web: Server
  let webPort = 0
  beforeAll(async () => {
    infra = await startLoopbackInfra()
    web = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => {
        body += d
      })
      req.on('end', () => res.end(`${req.method} ${req.url} ${body.length}`))
    })
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r))
    webPort = (web.address() as { port: number }).port
  })
  afterAll(async () => {
    web?.close()
    await infra?.close()
  })

  it('carries concurrent HTTP exchanges to a service behind the peer, each its own pipe', async () => {
    const server = startCli(['tunnel', '--expose', String(webPort), ...infra.flags], {
      XDG_CONFIG_HOME: `${infra.dir}/a`,
    })
    const serverDone = finished(server)
    const address = (await waitForLine(server, /^address: /)).slice('address: '.length)
    const client = startCli(['tunnel', address, '--local', '127.0.0.1:0', ...infra.flags], {
      XDG_CONFIG_HOME: `${infra.dir}/b`,
    })
    const clientDone = finished(client)
    const line = await waitForLine(client, /^forwarding 127\.0\.0\.1:\d+ /)
    const port = Number(/:(\d+) /.exec(line)?.[1])
    const bodies = await Promise.all(
      [1, 2, 3, 4, 5].map(async (i) => {
        const res = await fetch(`http://127.0.0.1:${port}/item/${i}`, {
          method: 'POST',
          body: 'x'.repeat(i * 100_000),
          headers: { connection: 'close' },
        })
        return res.text()
      }),
    )
    expect(bodies).toEqual([1, 2, 3, 4, 5].map((i) => `POST /item/${i} ${i * 100_000}`))
    client.kill('SIGTERM')
    server.kill('SIGTERM')
    const [c, s] = await Promise.all([clientDone, serverDone])
    expect(c.code, c.stderr).toBe(0)
    expect(s.code, s.stderr).toBe(0)
    expect(s.stderr.match(/^peer [0-9a-f]{66} connected via direct$/gm)).toHaveLength(5)
  }, 120_000)
})
