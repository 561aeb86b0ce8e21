import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { MemorySignalingHub, NatType } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, type P2pdNode } from '../src/index.js'

const nodes: P2pdNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

const hub = new MemorySignalingHub()
function node(init: Partial<Parameters<typeof createNode>[0]> = {}) {
  const n = createNode({ signaling: (id) => hub.connect(id.nodeId), ...init })
  nodes.push(n)
  return n
}

/** Resolves 'connected' or the error code of a TCP dial to one of this machine's addresses. */
function dial(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      resolve('connected')
    })
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
  })
}

const lanIPv4 = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address

describe('the listener binds to what the node announces', () => {
  it('a local-only node (the default) listens on loopback only', async () => {
    const n = node()
    await n.start()
    expect(n.address.ip4.map((i) => i.ext)).toEqual(['127.0.0.1'])
    expect(n.listening.host).toBe('127.0.0.1')
    expect(await dial('127.0.0.1', n.listening.port)).toBe('connected')
    // This machine's own LAN address (no traffic leaves it): refused, nothing listens there.
    if (lanIPv4) expect(await dial(lanIPv4, n.listening.port)).toBe('ECONNREFUSED')
  })

  it('a node announcing a non-loopback interface listens on every interface', async () => {
    const n = node({
      interfaces: [
        {
          ext: '198.51.100.7',
          nic: lanIPv4 ?? '10.0.0.2',
          nat: { type: NatType.OpenInternet, delta: { type: 1, value: 0 } },
        },
      ],
    })
    await n.start()
    expect(n.listening.host).toBe('0.0.0.0')
  })

  it('an explicit listen host wins', async () => {
    const n = node({ listen: { host: '127.0.0.2' } })
    await n.start()
    expect(n.listening.host).toBe('127.0.0.2')
  })
})
