// The server's Pump: a bound connection copying what it reads through one buffer of its own.
// That buffer must never be read into again before the write from it has left, whatever the
// reader on the far side does; and a relay not fused (one hop to a plain peer) goes through
// pumps both ways.
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { TurnServer, TurnTcpClient } from '../src/index.js'
import { Pump } from '../src/server/tcp-pump.js'
import { digest, loopbackPair, readAll, tcpPeer } from './tcp-helpers.js'

const MiB = 1024 * 1024

describe('Pump', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f()
  })

  const socketPair = () => loopbackPair(cleanup)

  it('a pump never reuses its buffer before a write left it: a stalled reader gets every byte', async () => {
    const [client, accepted] = await socketPair()
    const [sink, reader] = await socketPair()
    const pump = Pump.adopt(accepted)
    if (!pump) throw new Error('not adopted')
    cleanup.push(() => pump.socket.destroy())
    pump.socket.once('end', () => sink.end())
    pump.to(sink)
    const sent = randomBytes(24 * MiB)
    client.end(sent)
    // The reader stalls: the sink's writes back up and complete later, from the pump's buffer.
    await new Promise((r) => setTimeout(r, 300))
    expect(sink.writableLength).toBeGreaterThan(0)
    expect(digest(await readAll(reader))).toBe(digest(sent))
  })

  it('through TurnServer, one hop to a plain peer (not fused): both ways intact with stalled readers', async () => {
    const server = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true })
    const address = await server.start()
    cleanup.push(() => server.close())
    const sockets: Socket[] = []
    const peer = await tcpPeer((s) => sockets.push(s))
    cleanup.push(() => peer.close())
    const client = await TurnTcpClient.allocate(
      { ...address, transport: 'tcp' as const, username: 'u', password: 'p' },
      { timeoutMs: 5000 },
    )
    cleanup.push(() => client.close())
    await client.createPermission(peer.address)
    const a = await client.connect(peer.address)
    const b = sockets[0] as Socket
    a.pause()
    b.pause()
    const down = randomBytes(16 * MiB)
    const up = randomBytes(8 * MiB)
    b.write(down)
    a.write(up)
    // Neither end reads for a while: the server's writes both ways back up.
    await new Promise((r) => setTimeout(r, 300))
    const toA = readAll(a)
    const toB = readAll(b)
    b.end()
    a.end()
    expect(digest(await toA)).toBe(digest(down))
    expect(digest(await toB)).toBe(digest(up))
    expect(server.stats).toMatchObject({ tcpSpliced: 1, tcpFused: 0 })
  })
})
