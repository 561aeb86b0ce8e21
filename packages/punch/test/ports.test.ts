import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { StunServer, StunTcpClient } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectLoop } from '../src/sockets/connect-loop.js'
import { freePort, freePorts } from '../src/sockets/free-port.js'
import { openFilter } from '../src/sockets/opener.js'
import { evenOffsets } from '../src/spray.js'

/**
 * What Node lets us do with one local port (Linux): the facts the punch relies on. Every
 * socket is bound *explicitly* (libuv then sets SO_REUSEADDR).
 */
let stun: StunServer
let peer: Server
const got: Socket[] = []
// Remote ports as seen at accept time: a socket the dialler resets loses its remotePort.
const gotPorts: number[] = []
beforeAll(async () => {
  stun = new StunServer()
  await stun.start()
  peer = createServer((s) => {
    got.push(s)
    gotPorts.push(s.remotePort ?? -1)
  }).listen(0, '127.0.0.1')
  await once(peer, 'listening')
})
afterAll(async () => {
  for (const s of got) s.destroy()
  peer.close()
  await stun.close()
})

const peerPort = () => (peer.address() as { port: number }).port

describe('held ports', () => {
  it('connects from the port of an open STUN connection, and listens on it too', async () => {
    const local = await freePort('127.0.0.1')
    const client = await StunTcpClient.connect(stun.primary, {
      localAddress: '127.0.0.1',
      localPort: local,
    })
    const mapped = (await client.binding()).mapped
    expect(mapped.port).toBe(local)
    const s = connect({
      host: '127.0.0.1',
      port: peerPort(),
      localAddress: '127.0.0.1',
      localPort: local,
    })
    await once(s, 'connect')
    expect(s.localPort).toBe(local)
    const l = createServer().listen({ host: '127.0.0.1', port: local })
    await once(l, 'listening')
    l.close()
    s.destroy()
    await client.close()
  })

  it('connects from the port again after the STUN connection closed (TIME_WAIT)', async () => {
    const local = await freePort('127.0.0.1')
    const client = await StunTcpClient.connect(stun.primary, {
      localAddress: '127.0.0.1',
      localPort: local,
    })
    await client.close()
    const s = connect({
      host: '127.0.0.1',
      port: peerPort(),
      localAddress: '127.0.0.1',
      localPort: local,
    })
    await once(s, 'connect')
    s.destroy()
  })

  it('cannot dial from a port an implicit (unbound) connection holds: bind explicitly', async () => {
    const implicit = connect({ host: '127.0.0.1', port: peerPort() })
    await once(implicit, 'connect')
    const s = connect({
      host: '127.0.0.1',
      port: stun.primary.port,
      localAddress: '127.0.0.1',
      localPort: implicit.localPort,
    })
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('EADDRINUSE')
    implicit.destroy()
  })

  it('opens a filter: one SYN leaves each held port, then the port can listen', async () => {
    const ports = await freePorts('127.0.0.1', 2, [])
    expect(new Set(ports).size).toBe(2)
    const before = got.length
    await openFilter({ ports, localAddress: '127.0.0.1', host: '127.0.0.1', port: peerPort() })
    // On loopback the SYN is answered at once: the peer saw one connection from each port.
    for (let i = 0; i < 50 && got.length < before + 2; i++)
      await new Promise((r) => setTimeout(r, 5))
    expect(gotPorts.slice(before).sort()).toEqual([...ports].sort())
    for (const port of ports) {
      const l = createServer().listen({ host: '127.0.0.1', port })
      await once(l, 'listening')
      l.close()
    }
  })

  it('sprays: many paced one-shot connects from one held port; every socket released', async () => {
    const held = await freePort('127.0.0.1')
    const refused = await freePorts('127.0.0.1', 99, [held, peerPort()])
    const targets = [...refused.slice(0, 60), peerPort(), ...refused.slice(60)]
    const connected: Socket[] = []
    const loop = connectLoop({
      pairs: targets.map((port, index) => ({
        localPort: held,
        remote: { host: '127.0.0.1', port },
        index,
        maxAttempts: 1,
      })),
      localAddress: '127.0.0.1',
      startAt: Date.now(),
      clock: { now: () => Date.now(), offset: 0, uncertainty: 0 },
      offsets: evenOffsets(targets.length, 2_000),
      windowMs: 2_000,
      retryMs: 10,
      attemptTimeoutMs: 500,
      onSocket: (s) => connected.push(s),
    })
    await loop.done
    expect(loop.attempts()).toBe(100) // one attempt per guessed port, refusals not retried
    expect(connected.map((s) => [s.localPort, s.remotePort])).toEqual([[held, peerPort()]])
    for (const s of connected) s.destroy()
  })
})
