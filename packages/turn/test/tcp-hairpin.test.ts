// Both peers' TCP allocations on one TurnServer, one Connecting to the other's relayed address:
// the server dials itself, and fuses the two spliced pairs (data connection to data connection)
// instead of copying every byte through its connection to itself. Bytes already in that
// connection when the pairs fuse must still arrive, in order; ends and closes must travel
// as they do unfused.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { TurnServer, TurnTcpClient } from '../src/index.js'
import { fuse, type SplicedPair } from '../src/server/tcp-hairpin.js'
import { Pump } from '../src/server/tcp-pump.js'
import { closedWithin, digest, loopbackPair, readAll } from './tcp-helpers.js'

const MiB = 1024 * 1024

describe('hairpin TCP relays on one TurnServer', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f()
  })

  const socketPair = () => loopbackPair(cleanup)

  /** A TurnServer and two TCP allocations on it, each permitting the other's relayed IP. */
  const twoAllocations = async () => {
    const server = new TurnServer({ users: { u: 'p' }, allowLoopbackPeers: true })
    const address = await server.start()
    cleanup.push(() => server.close())
    const config = { ...address, transport: 'tcp' as const, username: 'u', password: 'p' }
    const [ca, cb] = await Promise.all([
      TurnTcpClient.allocate(config, { timeoutMs: 5000 }),
      TurnTcpClient.allocate(config, { timeoutMs: 5000 }),
    ])
    cleanup.push(() => Promise.all([ca.close(), cb.close()]))
    const relayedA = { host: ca.relayed.host, port: ca.relayed.port }
    const relayedB = { host: cb.relayed.host, port: cb.relayed.port }
    await Promise.all([ca.createPermission(relayedB), cb.createPermission(relayedA)])
    return { server, ca, cb, relayedB }
  }

  for (const pumped of [false, true]) {
    it(`fuse${pumped ? ' (pumped data connections)' : ''}: bytes inside the inner connection arrive first, then the rest straight; FINs pass`, async () => {
      const [innerX, innerY] = await socketPair()
      const [clientX, acceptedX] = await socketPair()
      const [clientY, acceptedY] = await socketPair()
      /** As TcpAllocation.splice sets a pair up (the pump's end ends its peer connection). */
      const pair = (peer: Socket, accepted: Socket): SplicedPair => {
        const pump = pumped ? Pump.adopt(accepted) : undefined
        if (pumped) expect(pump).toBeDefined()
        if (!pump) return { peer, data: accepted }
        cleanup.push(() => pump.socket.destroy())
        pump.socket.once('end', () => peer.end())
        return { peer, data: pump.socket, pump }
      }
      const x = pair(innerX, acceptedX)
      const y = pair(innerY, acceptedY)
      // X was spliced first: its client's bytes go into the inner connection, held there.
      innerX.pipe(x.data)
      if (x.pump) x.pump.to(innerX)
      else x.data.pipe(innerX)
      const early = randomBytes(3 * MiB)
      clientX.write(early)
      for (let i = 0; i < 200 && innerX.bytesWritten < early.length; i++) {
        await new Promise((r) => setTimeout(r, 10))
      }
      expect(innerX.bytesWritten).toBe(early.length)
      const toY = readAll(clientY)
      const toX = readAll(clientX)
      const leftover = Buffer.from('bytes after the ConnectionBind')
      fuse(x, y, leftover)
      const late = randomBytes(5 * MiB)
      const back = randomBytes(2 * MiB)
      clientX.end(late)
      clientY.end(back)
      const [gotY, gotX] = await Promise.all([toY, toX])
      expect(digest(gotY)).toBe(digest(Buffer.concat([early, late])))
      expect(digest(gotX)).toBe(digest(Buffer.concat([leftover, back])))
      // The late bytes and the reply went data to data: only the early ones crossed inside.
      expect(innerX.bytesWritten).toBe(early.length)
      expect(innerY.bytesWritten).toBe(0)
    })
  }

  it('through TurnServer: fused, 16 MiB hashed each way with early bytes, a stalled reader, half-close, close', async () => {
    const { server, ca, cb, relayedB } = await twoAllocations()
    const inbound = once(cb, 'connection') as Promise<[Socket]>
    const a = await ca.connect(relayedB)
    // Sent before B's side is bound, or at once after: crosses the server's own connection.
    const early = randomBytes(2 * MiB)
    a.write(early)
    const [b] = await inbound
    // B reads nothing for a while: the server's writes to it back up.
    b.pause()
    await new Promise((r) => setTimeout(r, 200))
    const toB = readAll(b)
    const toA = readAll(a)
    const late = randomBytes(16 * MiB)
    const back = randomBytes(16 * MiB)
    a.end(late)
    // A half-closed: B still gets all of it, then replies on its open half.
    expect(digest(await toB)).toBe(digest(Buffer.concat([early, late])))
    b.end(back)
    expect(digest(await toA)).toBe(digest(back))
    expect(server.stats).toMatchObject({ tcpSpliced: 2, tcpFused: 1 })
    // Both halves done: the server closes both data connections.
    await Promise.all([closedWithin(a, 5000), closedWithin(b, 5000)])
  })

  it('through TurnServer: one side destroyed ends the other, which then closes', async () => {
    const { server, ca, cb, relayedB } = await twoAllocations()
    const inbound = once(cb, 'connection') as Promise<[Socket]>
    const a = await ca.connect(relayedB)
    const [b] = await inbound
    b.on('error', () => {})
    const ended = readAll(b)
    a.write(randomBytes(MiB))
    a.destroy()
    // The FIN reaches B (half-open, like any relayed connection); B's own end closes it.
    await ended
    b.end()
    await closedWithin(b, 15_000)
    expect(server.stats.tcpFused).toBe(1)
  })
})
