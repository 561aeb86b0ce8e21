import { describe, expect, it } from 'vitest'
import { startTunnelPair, useTunnelWorld } from './tunnel-pair.js'

describe('p2pd tunnel (two processes, loopback servers)', () => {
  const world = useTunnelWorld()

  it('carries concurrent HTTP exchanges to a service behind the peer, each its own pipe', async () => {
    const { server, serverDone, client, clientDone, port } = await startTunnelPair(world)
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
