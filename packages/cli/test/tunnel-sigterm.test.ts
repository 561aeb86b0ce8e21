import type { ChildProcess } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { Finished } from './spawn.js'
import { startTunnelPair, useTunnelWorld } from './tunnel-pair.js'

// `p2pd tunnel --local` used to take ≈ 10 s to exit on SIGTERM once it had connected: the
// process's stamp worker (signal-mqtt) held the event loop until its idle timer ended it.
// The bound here is generous for a loaded machine and still far below that 10 s.
const EXIT_BOUND_MS = 5_000

/** Time from SIGTERM to the process's exit. */
async function timeToExit(child: ChildProcess, done: Promise<Finished>) {
  const t0 = performance.now()
  child.kill('SIGTERM')
  const result = await done
  return { ...result, ms: performance.now() - t0 }
}

describe('p2pd tunnel exits promptly on SIGTERM', () => {
  const world = useTunnelWorld()

  /** An exposing process and a forwarding one, after three keep-alive exchanges. */
  async function connectedPair() {
    const pair = await startTunnelPair(world)
    // Keep-alive: the local connections stay open in the forwarder after the answers.
    const bodies = await Promise.all(
      [1, 2, 3].map(async (i) => (await fetch(`http://127.0.0.1:${pair.port}/item/${i}`)).text()),
    )
    expect(bodies).toEqual(['GET /item/1 0', 'GET /item/2 0', 'GET /item/3 0'])
    return pair
  }

  it('the forwarder, with its streams open, after the exposing side went away', {
    timeout: 120_000,
    retry: 2,
  }, async () => {
    const { server, serverDone, client, clientDone } = await connectedPair()
    const s = await timeToExit(server, serverDone)
    await new Promise((r) => setTimeout(r, 1_000)) // its streams break meanwhile
    const c = await timeToExit(client, clientDone)
    console.log(`tunnel SIGTERM → exit: expose ${s.ms.toFixed(0)} ms, local ${c.ms.toFixed(0)} ms`)
    expect(s.code, s.stderr).toBe(0)
    expect(c.code, c.stderr).toBe(0)
    expect(s.ms).toBeLessThan(EXIT_BOUND_MS)
    expect(c.ms).toBeLessThan(EXIT_BOUND_MS)
  })

  it('both sides stopped at once, streams open', { timeout: 120_000, retry: 2 }, async () => {
    const { server, serverDone, client, clientDone } = await connectedPair()
    const [c, s] = await Promise.all([
      timeToExit(client, clientDone),
      timeToExit(server, serverDone),
    ])
    console.log(`tunnel SIGTERM → exit: local ${c.ms.toFixed(0)} ms, expose ${s.ms.toFixed(0)} ms`)
    expect(c.code, c.stderr).toBe(0)
    expect(s.code, s.stderr).toBe(0)
    expect(c.ms).toBeLessThan(EXIT_BOUND_MS)
    expect(s.ms).toBeLessThan(EXIT_BOUND_MS)
  })
})
