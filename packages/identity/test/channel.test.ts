import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Duplex } from 'node:stream'
import { TimeoutError } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ChannelError,
  generateIdentity,
  type Identity,
  type SecureChannelOptions,
  secureChannel,
} from '../src/index.js'
import { duplexPair, framewise, middlebox, tcpPair } from './helpers/streams.js'

const alice = generateIdentity()
const bob = generateIdentity()
const carol = generateIdentity()

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

type Side = Partial<SecureChannelOptions> & { identity: Identity }

/** Runs both handshakes; settles each side separately. */
async function connectPair(a: Duplex, b: Duplex, left: Side, right: Side) {
  const [l, r] = await Promise.allSettled([
    secureChannel(a, {
      expectedPeer: right.identity.nodeId,
      initiator: true,
      timeoutMs: 5000,
      ...left,
    }),
    secureChannel(b, {
      expectedPeer: left.identity.nodeId,
      initiator: false,
      timeoutMs: 5000,
      ...right,
    }),
  ])
  for (const s of [l, r]) if (s.status === 'fulfilled') cleanups.push(() => s.value.destroy())
  return [l, r] as const
}

async function pipes(
  a: Duplex,
  b: Duplex,
  left: Side = { identity: alice },
  right: Side = { identity: bob },
) {
  const [l, r] = await connectPair(a, b, left, right)
  if (l.status === 'rejected') throw l.reason
  if (r.status === 'rejected') throw r.reason
  return [l.value, r.value] as const
}

function collect(pipe: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    pipe.on('data', (c: Buffer) => chunks.push(c))
    pipe.on('end', () => resolve(Buffer.concat(chunks)))
    pipe.on('error', reject)
  })
}

function errorOf(pipe: Duplex): Promise<Error> {
  return new Promise((resolve) => pipe.once('error', resolve))
}

function codeOf(result: PromiseSettledResult<unknown>): string | undefined {
  return result.status === 'rejected' ? (result.reason as { code?: string }).code : undefined
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('secure channel: handshake', () => {
  it('authenticates both sides over an in-memory pair', async () => {
    const [a, b] = duplexPair()
    const [pa, pb] = await pipes(a, b)
    expect(pa.remotePeer).toBe(bob.nodeId)
    expect(pb.remotePeer).toBe(alice.nodeId)
    expect(pa.strategy).toBe('direct')
    expect(pa.handshakeHash).toEqual(pb.handshakeHash)
    pa.end('hello bob')
    expect((await collect(pb)).toString()).toBe('hello bob')
  })

  it('authenticates over loopback TCP and records the path', async () => {
    const { client, server } = await tcpPair()
    cleanups.push(() => {
      client.destroy()
      server.destroy()
    })
    const [pa, pb] = await pipes(
      client,
      server,
      { identity: alice, strategy: 'punch' },
      { identity: bob },
    )
    expect(pa.strategy).toBe('punch')
    expect(pa.path.remote).toEqual({ host: '127.0.0.1', port: server.localPort })
    expect(pb.path.remote.port).toBe(client.localPort)
    expect(pa.path.relayed).toBe(false)
    pb.write('ping')
    const [chunk] = await once(pa, 'data')
    expect(chunk.toString()).toBe('ping')
    const closed = pa.close()
    await collect(pb)
    await closed
    expect(client.destroyed).toBe(true)
  })

  it('hides both identities from a passive observer', async () => {
    const box = middlebox()
    const wire: Buffer[] = []
    box.tamper.toRight = (c) => {
      wire.push(Buffer.from(c))
      return [c]
    }
    box.tamper.toLeft = (c) => {
      wire.push(Buffer.from(c))
      return [c]
    }
    const [pa] = await pipes(box.left, box.right)
    pa.write('x')
    const all = Buffer.concat(wire)
    for (const id of [alice, bob]) {
      expect(all.includes(Buffer.from(id.nodeId, 'hex').subarray(1, 17))).toBe(false)
    }
  })

  it('wrong expected peer (initiator side): both fail, no user data', async () => {
    const [a, b] = duplexPair()
    const received: Buffer[] = []
    const [l, r] = await connectPair(
      a,
      b,
      { identity: alice, expectedPeer: carol.nodeId },
      { identity: bob },
    )
    expect(codeOf(l)).toBe('CHANNEL_PEER_MISMATCH')
    expect(codeOf(r)).toBe('CHANNEL_CLOSED')
    expect(received).toEqual([])
    expect(a.destroyed && b.destroyed).toBe(true)
  })

  it('wrong expected peer (responder side): both fail before any pipe exists', async () => {
    const [a, b] = duplexPair()
    const [l, r] = await connectPair(
      a,
      b,
      { identity: alice },
      { identity: bob, expectedPeer: carol.nodeId },
    )
    expect(codeOf(r)).toBe('CHANNEL_PEER_MISMATCH')
    expect(codeOf(l)).toBe('CHANNEL_CLOSED')
  })

  it('an impostor holding someone else’s node ID cannot pass (it lacks the key)', async () => {
    // Mallory answers as responder but the initiator expects Bob: the proven ID is Mallory's.
    const mallory = generateIdentity()
    const { client, server } = await tcpPair()
    cleanups.push(() => {
      client.destroy()
      server.destroy()
    })
    const [l] = await connectPair(
      client,
      server,
      { identity: alice, expectedPeer: bob.nodeId },
      { identity: mallory },
    )
    expect(codeOf(l)).toBe('CHANNEL_PEER_MISMATCH')
  })

  it('accepts through a predicate, sync or async', async () => {
    const [a, b] = duplexPair()
    const seen: string[] = []
    const [pa, pb] = await pipes(
      a,
      b,
      {
        identity: alice,
        expectedPeer: async (id) => {
          seen.push(id)
          return true
        },
      },
      { identity: bob, expectedPeer: (id) => id === alice.nodeId },
    )
    expect(seen).toEqual([bob.nodeId])
    expect(pa.remotePeer).toBe(bob.nodeId)
    expect(pb.remotePeer).toBe(alice.nodeId)
    const [c, d] = duplexPair()
    const [, r] = await connectPair(
      c,
      d,
      { identity: alice },
      { identity: bob, expectedPeer: () => false },
    )
    expect(codeOf(r)).toBe('CHANNEL_PEER_MISMATCH')
  })

  it('breaks the simultaneous-open tie: both initiator, over TCP', async () => {
    for (let i = 0; i < 5; i++) {
      const { client, server } = await tcpPair()
      cleanups.push(() => {
        client.destroy()
        server.destroy()
      })
      const [pa, pb] = await pipes(
        client,
        server,
        { identity: alice, initiator: true },
        { identity: bob, initiator: true },
      )
      expect(pa.remotePeer).toBe(bob.nodeId)
      expect(pb.remotePeer).toBe(alice.nodeId)
      pa.write('a→b')
      pb.write('b→a')
      expect((await once(pb, 'data'))[0].toString()).toBe('a→b')
      expect((await once(pa, 'data'))[0].toString()).toBe('b→a')
    }
  })

  it('breaks the tie when both think they are the responder', async () => {
    const [a, b] = duplexPair()
    const [pa, pb] = await pipes(
      a,
      b,
      { identity: alice, initiator: false },
      { identity: bob, initiator: false },
    )
    expect(pa.remotePeer).toBe(bob.nodeId)
    expect(pb.remotePeer).toBe(alice.nodeId)
  })

  it('rejects a reflected hello (talking to itself)', async () => {
    const echo = new Duplex({
      read() {},
      write(chunk, _e, cb) {
        this.push(chunk)
        cb()
      },
    })
    await expect(
      secureChannel(echo, {
        identity: alice,
        expectedPeer: () => true,
        initiator: true,
        timeoutMs: 2000,
      }),
    ).rejects.toMatchObject({ code: 'CHANNEL_HELLO' })
  })

  it('times out when the peer never answers, and destroys the stream', async () => {
    const [a] = duplexPair()
    const start = Date.now()
    const err = await secureChannel(a, {
      identity: alice,
      expectedPeer: bob.nodeId,
      initiator: true,
      timeoutMs: 300,
    }).catch((e) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(Date.now() - start).toBeLessThan(1500)
    expect(a.destroyed).toBe(true)
  })

  it('times out over TCP too (peer accepts but stays silent)', async () => {
    const { client, server } = await tcpPair()
    cleanups.push(() => {
      client.destroy()
      server.destroy()
    })
    const err = await secureChannel(client, {
      identity: alice,
      expectedPeer: bob.nodeId,
      initiator: true,
      timeoutMs: 300,
    }).catch((e) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(client.destroyed).toBe(true)
  })

  it('aborts through the signal', async () => {
    const [a] = duplexPair()
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    await expect(
      secureChannel(a, {
        identity: alice,
        expectedPeer: bob.nodeId,
        initiator: false,
        signal: ac.signal,
      }),
    ).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('rejects garbage and oversized handshake frames with typed errors', async () => {
    for (const [bytes, code] of [
      [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'CHANNEL_HELLO'],
      [
        Buffer.concat([
          Buffer.from('p2pd'),
          Buffer.from([2, 0, 1, 0]),
          randomBytes(16),
          Buffer.from([0xff, 0xff]),
        ]),
        'CHANNEL_FRAME_TOO_LARGE',
      ],
      [
        Buffer.concat([
          Buffer.from('p2pd'),
          Buffer.from([2, 0, 1, 0]),
          randomBytes(16),
          Buffer.from([0, 40]),
          randomBytes(40),
        ]),
        'CHANNEL_HANDSHAKE',
      ],
    ] as const) {
      const [a, b] = duplexPair()
      b.on('data', () => {})
      b.write(bytes)
      const err = await secureChannel(a, {
        identity: alice,
        expectedPeer: bob.nodeId,
        initiator: true,
        timeoutMs: 2000,
      }).catch((e) => e)
      expect(err).toBeInstanceOf(ChannelError)
      expect(err.code).toBe(code)
      expect(a.destroyed).toBe(true)
    }
  })

  it('fails the handshake when rekey intervals differ (bound in the prologue)', async () => {
    const [a, b] = duplexPair()
    const [l, r] = await connectPair(
      a,
      b,
      { identity: alice, rekeyInterval: 10 },
      { identity: bob, rekeyInterval: 11 },
    )
    expect([codeOf(l), codeOf(r)]).toContain('CHANNEL_HANDSHAKE')
  })
})

describe('secure channel: transport', () => {
  async function tamperedPair() {
    const box = middlebox()
    const [pa, pb] = await pipes(box.left, box.right)
    pa.on('error', () => {}) // the sender dies too once the receiver rejects; not under test
    return { box, pa, pb }
  }

  it('rejects a flipped byte in a frame and closes the stream', async () => {
    const { box, pa, pb } = await tamperedPair()
    box.tamper.toRight = framewise((frame) => {
      frame[5] = (frame[5] as number) ^ 0x01
      return [frame]
    })
    const got: Buffer[] = []
    pb.on('data', (c: Buffer) => got.push(c))
    const err = errorOf(pb)
    pa.write('secret payload')
    expect(await err).toMatchObject({ code: 'CHANNEL_DECRYPT' })
    expect(got).toEqual([])
    expect(pb.destroyed).toBe(true)
  })

  it('rejects a replayed frame', async () => {
    const { box, pa, pb } = await tamperedPair()
    box.tamper.toRight = framewise((frame) => [frame, frame])
    const got: string[] = []
    pb.on('data', (c: Buffer) => got.push(c.toString()))
    const err = errorOf(pb)
    pa.write('pay me once')
    expect(await err).toMatchObject({ code: 'CHANNEL_DECRYPT' })
    expect(got).toEqual(['pay me once'])
  })

  it('rejects reordered frames', async () => {
    const { box, pa, pb } = await tamperedPair()
    let held: Buffer | undefined
    box.tamper.toRight = framewise((frame) => {
      if (!held) {
        held = frame
        return []
      }
      return [frame, held]
    })
    const got: string[] = []
    pb.on('data', (c: Buffer) => got.push(c.toString()))
    const err = errorOf(pb)
    pa.write('first')
    await new Promise((r) => setImmediate(r))
    pa.write('second')
    expect(await err).toMatchObject({ code: 'CHANNEL_DECRYPT' })
    expect(got).toEqual([])
  })

  it('detects truncation mid-frame and at a frame boundary', async () => {
    {
      const { box, pa, pb } = await tamperedPair()
      box.tamper.toRight = framewise((frame) => {
        box.tamper.toRight = () => []
        return [frame.subarray(0, 10)]
      })
      const err = errorOf(pb)
      pa.write('cut me')
      await new Promise((r) => setImmediate(r))
      box.endRight()
      expect(await err).toMatchObject({
        code: 'CHANNEL_TRUNCATED',
        message: expect.stringMatching(/middle/),
      })
    }
    {
      const { box, pa, pb } = await tamperedPair()
      const got: string[] = []
      pb.on('data', (c: Buffer) => got.push(c.toString()))
      const err = errorOf(pb)
      pa.write('whole frame')
      await new Promise((r) => setImmediate(r))
      box.endRight() // an attacker's FIN, without the authenticated close frame
      expect(await err).toMatchObject({
        code: 'CHANNEL_TRUNCATED',
        message: expect.stringMatching(/without a close/),
      })
      expect(got).toEqual(['whole frame'])
    }
  })

  it('rekeys in lockstep', async () => {
    const [a, b] = duplexPair()
    const [pa, pb] = await pipes(
      a,
      b,
      { identity: alice, rekeyInterval: 3 },
      { identity: bob, rekeyInterval: 3 },
    )
    const data = randomBytes(300_000)
    const messages = Array.from({ length: 20 }, (_, i) => Buffer.from(`m${i}`))
    const done = collect(pb)
    for (const m of messages) pa.write(m)
    pa.end(data)
    expect(sha(await done)).toBe(sha(Buffer.concat([...messages, data])))
  })

  for (const size of [1_000_000, 10_000_000]) {
    it(`echoes ${size / 1e6} MB byte-identical over TCP, with backpressure`, async () => {
      const { client, server } = await tcpPair()
      cleanups.push(() => {
        client.destroy()
        server.destroy()
      })
      const [pa, pb] = await pipes(client, server)
      pb.pipe(pb) // echo: pipe() honours write() === false and 'drain'
      const data = randomBytes(size)
      const echoed = collect(pa)
      let offset = 0
      while (offset < data.length) {
        const n = Math.min(data.length - offset, 100_000 + (offset % 77_777))
        if (!pa.write(data.subarray(offset, offset + n))) await once(pa, 'drain')
        offset += n
      }
      pa.end()
      const back = await echoed
      expect(back.length).toBe(size)
      expect(sha(back)).toBe(sha(data))
    })
  }

  it('propagates backpressure: a reader that stops reading stalls the writer, bounded', async () => {
    const { client, server } = await tcpPair()
    cleanups.push(() => {
      client.destroy()
      server.destroy()
    })
    const [pa, pb] = await pipes(client, server)
    pb.pause()
    const chunk = Buffer.alloc(256 * 1024, 7)
    let accepted = 0
    // Write until the pipe says stop and stays stopped (no drain within 300 ms).
    for (;;) {
      accepted += chunk.length
      if (!pa.write(chunk)) {
        const drained = await Promise.race([
          once(pa, 'drain').then(() => true),
          new Promise((r) => setTimeout(() => r(false), 300)),
        ])
        if (!drained) break
      }
      if (accepted > 256 * 1024 * 1024) break
    }
    expect(accepted).toBeLessThan(64 * 1024 * 1024)
    expect(pb.readableLength).toBeLessThan(2 * 1024 * 1024)
    // Resuming delivers everything.
    let got = 0
    pb.on('data', (c: Buffer) => {
      got += c.length
    })
    pb.resume()
    pa.end()
    await once(pb, 'end')
    expect(got).toBe(accepted)
  })

  it('delivers data pipelined right behind the accept frame', async () => {
    const [a, b] = duplexPair()
    const [pa, pb] = await pipes(a, b)
    pb.write('early')
    pb.end()
    expect((await collect(pa)).toString()).toBe('early')
  })

  it('destroys the pipe when the underlying stream dies', async () => {
    const { client, server } = await tcpPair()
    const [pa, pb] = await pipes(client, server)
    const err = errorOf(pa)
    const errB = errorOf(pb)
    server.destroy()
    expect(await errB).toBeInstanceOf(ChannelError)
    expect(await err).toBeInstanceOf(ChannelError)
  })
})
