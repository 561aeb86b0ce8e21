import { describe, expect, it } from 'vitest'
import { freePort, MissingServerError, requireBinary, spawnServer } from '../src/index.js'

describe('testkit', () => {
  it('requireBinary finds real binaries and names the package of missing ones', () => {
    expect(requireBinary('node', 'nodejs')).toMatch(/node$/)
    expect(() => requireBinary('no-such-binary-p2pd', 'p2pd-pkg')).toThrow(MissingServerError)
    expect(() => requireBinary('no-such-binary-p2pd', 'p2pd-pkg')).toThrow(/p2pd-pkg/)
  })

  it('spawnServer waits for readiness and stops by PID', async () => {
    let polls = 0
    const s = await spawnServer({
      name: 'sleeper',
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      ready: async () => ++polls >= 3,
    })
    expect(polls).toBe(3)
    expect(s.pid).toBeGreaterThan(0)
    await s.stop()
    expect(s.child.exitCode !== null || s.child.signalCode !== null).toBe(true)
  })

  it('spawnServer reports a server that dies before it is ready', async () => {
    await expect(
      spawnServer({
        name: 'crasher',
        command: process.execPath,
        args: ['-e', 'console.error("bad config"); process.exit(3)'],
        ready: async () => false,
      }),
    ).rejects.toThrow(/crasher failed to start \(exited with 3\)[\s\S]*bad config/)
  })

  it('freePort returns a usable port', async () => {
    const p = await freePort()
    expect(p).toBeGreaterThan(0)
    expect(p).toBeLessThan(65536)
  })
})
