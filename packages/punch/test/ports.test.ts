import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { StunServer, StunTcpClient } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/sockets/free-port.js'

/**
 * What Node lets us do with one local port (Linux): the facts the punch relies on. Every
 * socket is bound *explicitly* (libuv then sets SO_REUSEADDR).
 */
let stun: StunServer
let peer: Server
const got: Socket[] = []
beforeAll(async () => {
  stun = new StunServer()
  await stun.start()
  peer = createServer((s) => got.push(s)).listen(0, '127.0.0.1')
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
})
