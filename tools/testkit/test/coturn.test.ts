import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Coturn, freePortPair, startCoturn, stunProbe } from '../src/coturn.js'
import { pidAlive } from '../src/process.js'

const run = promisify(execFile)

describe('startCoturn', () => {
  let coturn: Coturn

  beforeAll(async () => {
    coturn = await startCoturn()
  })
  afterAll(async () => {
    await coturn?.stop()
  })

  it('listens on both IPs and both ports with RFC 5780 on', async () => {
    expect(coturn.host).toBe('127.0.0.1')
    expect(coturn.altHost).toBe('127.0.0.2')
    expect(coturn.altPort).toBe(coturn.port + 1)
    for (const host of [coturn.host, coturn.altHost]) {
      for (const port of [coturn.port, coturn.altPort]) {
        expect(await stunProbe(host, port, 1000)).toBe(true)
      }
    }
    // An independent client sees OTHER-ADDRESS = altHost:altPort.
    const { stdout } = await run('timeout', [
      '5',
      'turnutils_stunclient',
      '-p',
      String(coturn.port),
      coturn.host,
    ])
    expect(stdout).toContain(`Other addr: : ${coturn.altHost}:${coturn.altPort}`)
  })

  it('runs as nobody when started as root, with the long-term credentials', async () => {
    expect(coturn.realm).toBe('p2pd.test')
    expect(`${coturn.user}:${coturn.password}`).toBe('p2pd:secret')
    if (process.getuid?.() === 0) {
      const { stdout } = await run('ps', ['-o', 'uid=', '-p', String(coturn.pid)])
      expect(stdout.trim()).toBe('65534')
    }
  })

  it('stop() ends the process by PID and frees the ports', async () => {
    const c = await startCoturn({ realm: 'other.test' })
    expect(pidAlive(c.pid)).toBe(true)
    await c.stop()
    expect(pidAlive(c.pid)).toBe(false)
    expect(await stunProbe(c.host, c.port, 200)).toBe(false)
    expect(existsSync(`/proc/${c.pid}`)).toBe(false)
  })

  it('freePortPair finds P and P+1 free on both IPs', async () => {
    const p = await freePortPair(['127.0.0.1', '127.0.0.2'])
    expect(p).toBeGreaterThanOrEqual(20_000)
    expect(p + 1).toBeLessThan(65_536)
  })
})
