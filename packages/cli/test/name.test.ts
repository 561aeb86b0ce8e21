import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { decodePeerAddress } from '@p2pd/address'
import { loadIdentity } from '@p2pd/identity'
import { NamePublisher } from '@p2pd/names'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackInfra, startLoopbackInfra } from './loopback.js'
import { finished, runCli, startCli, waitForLine } from './spawn.js'

// `p2pd name` and `p2pd connect <name>` as separate processes, names on the loopback broker.
describe('p2pd name set / resolve, connect by name', () => {
  let infra: LoopbackInfra
  beforeAll(async () => {
    infra = await startLoopbackInfra()
  })
  afterAll(() => infra?.close())

  it('name set publishes and prints the full name; name resolve prints the address', async () => {
    const env = { XDG_CONFIG_HOME: join(infra.dir, 'set') }
    const set = await runCli(['name', 'set', 'alice', ...infra.flags], env)
    expect(set.code, set.stderr).toBe(0)
    const name = set.stdout.trim()
    expect(name).toMatch(/^alice\.[a-z2-7]{16}$/)
    expect(set.stderr).toMatch(/published seq \d+ on 1 of 1 broker/)
    const id = await loadIdentity(join(infra.dir, 'set', 'p2pd', 'key.json'))
    const resolved = await runCli(['name', 'resolve', name, ...infra.flags], env)
    expect(resolved.code, resolved.stderr).toBe(0)
    expect(decodePeerAddress(resolved.stdout.trim()).nodeId).toBe(id.nodeId)
    expect(resolved.stderr).toContain(`node ${id.nodeId}`)
    // A name nobody published: exit 1 with the typed reason.
    const unknown = await runCli(
      ['name', 'resolve', name.replace('alice', 'nobody'), ...infra.flags],
      env,
    )
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/no valid record/)
    // Usage errors: exit 2.
    expect((await runCli(['name', 'set', 'Bad_Label', ...infra.flags], env)).code).toBe(2)
    expect((await runCli(['name', 'resolve', 'alice.short', ...infra.flags], env)).code).toBe(2)
    expect((await runCli(['name', 'frob'], env)).code).toBe(2)
    expect((await runCli(['name', 'resolve'], env)).code).toBe(2)
  }, 150_000)

  it('name set --keep stays running until SIGTERM', async () => {
    const child = startCli(['name', 'set', 'keeper', '--keep', ...infra.flags], {
      XDG_CONFIG_HOME: join(infra.dir, 'keep'),
    })
    const done = finished(child)
    await waitForLine(child, /following address changes/)
    child.kill('SIGTERM')
    const result = await done
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toMatch(/^keeper\.[a-z2-7]{16}$/)
  }, 150_000)

  it('connect <name> reaches the listener the name points at', async () => {
    const listenerEnv = { XDG_CONFIG_HOME: join(infra.dir, 'bob') }
    const listener = startCli(['listen', ...infra.flags], listenerEnv)
    const listenDone = finished(listener)
    const address = (await waitForLine(listener, /^address: /)).slice('address: '.length)
    // The listener's owner publishes a name for that address with the listener's key.
    const identity = await loadIdentity(join(infra.dir, 'bob', 'p2pd', 'key.json'))
    const publisher = new NamePublisher({ identity, label: 'bob', brokers: [infra.broker.url] })
    await publisher.publish(address)
    const payload = randomBytes(50_000)
    listener.stdin?.end('hi')
    const connector = startCli(['connect', publisher.name, ...infra.flags], {
      XDG_CONFIG_HOME: join(infra.dir, 'carol'),
    })
    connector.stdout?.setEncoding('latin1')
    listener.stdout?.setEncoding('latin1')
    connector.stdin?.end(payload)
    const [l, c] = await Promise.all([listenDone, finished(connector)])
    expect(c.code, c.stderr).toBe(0)
    expect(l.code, l.stderr).toBe(0)
    expect(Buffer.from(l.stdout, 'latin1').equals(payload)).toBe(true)
    expect(c.stdout).toBe('hi')
    expect(c.stderr).toContain(`peer ${identity.nodeId} connected`)
  }, 150_000)
})
