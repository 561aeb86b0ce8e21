import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackInfra, startLoopbackInfra } from './loopback.js'
import { finished, startCli, waitForLine } from './spawn.js'

describe('p2pd listen / connect (two processes, loopback servers)', () => {
  let infra: LoopbackInfra
  beforeAll(async () => {
    infra = await startLoopbackInfra()
  })
  afterAll(() => infra?.close())

  it('pipes data both ways like netcat and reports the peer', async () => {
    const listener = startCli(['listen', ...infra.flags], { XDG_CONFIG_HOME: `${infra.dir}/a` })
    const listenDone = finished(listener)
    const line = await waitForLine(listener, /^address: /)
    const address = line.slice('address: '.length)
    expect(address).not.toMatch(/…/)
    const toListener = randomBytes(300_000)
    const toConnector = randomBytes(200_000)
    listener.stdin?.end(toConnector)
    const connector = startCli(['connect', address, ...infra.flags], {
      XDG_CONFIG_HOME: `${infra.dir}/b`,
    })
    connector.stdout?.setEncoding('latin1')
    listener.stdout?.setEncoding('latin1')
    connector.stdin?.end(toListener)
    const [l, c] = await Promise.all([listenDone, finished(connector)])
    expect(c.code, c.stderr).toBe(0)
    expect(l.code, l.stderr).toBe(0)
    expect(Buffer.from(l.stdout, 'latin1').equals(toListener)).toBe(true)
    expect(Buffer.from(c.stdout, 'latin1').equals(toConnector)).toBe(true)
    expect(l.stderr).toMatch(/^peer [0-9a-f]{66} connected via direct$/m)
    expect(c.stderr).toMatch(/^peer [0-9a-f]{66} connected via direct in \d+ ms$/m)
  }, 40_000)

  it('--allow refuses a peer that is not listed; connect fails with exit 1', async () => {
    const listener = startCli(['listen', ...infra.flags, '--allow', '02'.padEnd(66, '0')], {
      XDG_CONFIG_HOME: `${infra.dir}/a`,
    })
    const listenDone = finished(listener)
    const address = (await waitForLine(listener, /^address: /)).slice('address: '.length)
    const connector = startCli(['connect', address, ...infra.flags, '--timeout', '4000'], {
      XDG_CONFIG_HOME: `${infra.dir}/b`,
    })
    connector.stdin?.end('nope')
    const c = await finished(connector)
    listener.kill('SIGTERM')
    const l = await listenDone
    expect(c.code).toBe(1)
    expect(l.stdout).toBe('')
    expect(l.code).toBe(130)
  }, 40_000)
})
