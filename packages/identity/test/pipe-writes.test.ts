import { once } from 'node:events'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameDecoder, MAX_FRAME_LENGTH, MAX_FRAME_PLAINTEXT } from '../src/framing.js'
import { useSecurePipes } from './helpers/pipes.js'
import { framewise, middlebox, tcpPair } from './helpers/streams.js'

const { pipes, cleanups } = useSecurePipes()

/** Pipes over an in-memory middlebox that records the body length of every frame a → b. */
async function observedPipes() {
  const box = middlebox()
  const [pa, pb] = await pipes(box.left, box.right)
  const frames: number[] = []
  box.tamper.toRight = framewise((frame) => {
    frames.push(frame.length - 2)
    return [frame]
  })
  return { pa, pb, frames }
}

/** Body lengths of the frames arriving on `socket` (read alongside the pipe). */
function spyFrames(socket: Socket): number[] {
  const decoder = new FrameDecoder()
  const frames: number[] = []
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk)
    for (let body = decoder.next(); body; body = decoder.next()) frames.push(body.length)
  })
  return frames
}

function received(pipe: Duplex): { bytes: () => Buffer; length: () => number } {
  const chunks: Buffer[] = []
  let length = 0
  pipe.on('data', (c: Buffer) => {
    chunks.push(c)
    length += c.length
  })
  return { bytes: () => Buffer.concat(chunks), length: () => length }
}

const message = (i: number, size = 64) => Buffer.alloc(size, i % 251)
const nextTurn = () => new Promise((r) => setImmediate(r))

describe('secure pipe: write coalescing', () => {
  it('sends the first write of a tick at once and seals the rest of the tick as one frame', async () => {
    const { pa, pb, frames } = await observedPipes()
    const got = received(pb)
    const sent: Buffer[] = []
    for (let i = 0; i < 1000; i++) {
      sent.push(message(i))
      pa.write(sent[i])
      if (i === 0) expect(frames).toEqual([64 + 16]) // synchronously, before the tick ends
    }
    await nextTurn()
    expect(frames).toEqual([64 + 16, 999 * 64 + 16])
    for (let i = 1000; i < 1010; i++) {
      sent.push(message(i))
      pa.write(sent[i])
    }
    await nextTurn()
    expect(frames).toEqual([64 + 16, 999 * 64 + 16, 64 + 16, 9 * 64 + 16])
    expect(got.bytes().equals(Buffer.concat(sent))).toBe(true)
  })

  it('a lone write skips the Writable queue; other writes keep their order and semantics', async () => {
    const { pa, pb, frames } = await observedPipes()
    const got = received(pb)
    // A plain Uint8Array (not a Buffer) on an idle pipe: sealed in the call, nothing queued.
    expect(pa.write(new Uint8Array([1, 2, 3]))).toBe(true)
    expect(frames).toEqual([3 + 16])
    expect(pa.writableLength).toBe(0)
    // The same tick: a string, a write with a callback, a corked pair — all in order after it.
    pa.write('four')
    let calledBack = false
    pa.write(Buffer.from([5]), () => {
      calledBack = true
    })
    pa.cork()
    pa.write(Buffer.from([6]))
    pa.write(new Uint8Array([7]))
    pa.uncork()
    await nextTurn()
    expect(calledBack).toBe(true)
    // Next turn: the idle pipe takes the shortcut again.
    expect(pa.write(Buffer.from([8]))).toBe(true)
    await nextTurn()
    expect([...got.bytes()]).toEqual([1, 2, 3, ...Buffer.from('four'), 5, 6, 7, 8])
    expect(frames[0]).toBe(3 + 16)
    expect(frames.at(-1)).toBe(1 + 16)
    // After end(), a write fails as a Writable's does (and never reaches the wire).
    pa.on('error', () => {})
    pb.on('error', () => {})
    pa.end()
    const failed = new Promise<Error | null | undefined>((resolve) => {
      pa.write(Buffer.from([9]), resolve)
    })
    expect((await failed)?.message).toMatch(/write after end/)
    await nextTurn()
    expect(got.bytes().includes(9)).toBe(false)
  })

  it('sends a lone write within the same turn of the event loop', async () => {
    const { pa, pb, frames } = await observedPipes()
    const got = received(pb)
    pa.write('ping')
    await nextTurn() // nothing else is written: the flush must not wait for more
    expect(frames).toEqual([4 + 16])
    expect(got.bytes().toString()).toBe('ping')
  })

  it('answers a lone write over TCP without waiting for another one', async () => {
    const { client, server } = await tcpPair()
    cleanups.push(
      () => client.destroy(),
      () => server.destroy(),
    )
    const [pa, pb] = await pipes(client, server)
    pb.on('data', (c: Buffer) => pb.write(c))
    for (let i = 0; i < 20; i++) {
      const back = once(pa, 'data')
      pa.write(message(i, 10))
      const [chunk] = (await Promise.race([
        back,
        new Promise((_, reject) => setTimeout(() => reject(new Error('stalled')), 5000)),
      ])) as [Buffer]
      expect(chunk.equals(message(i, 10))).toBe(true)
    }
  })

  it('keeps the byte stream intact however writes fall across ticks (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 3 * MAX_FRAME_PLAINTEXT }).map((n) => ({ write: n })),
            fc.constantFrom({ write: 1 }, { write: 64 }, { write: 65_536 }),
            fc.constantFrom({ tick: 'micro' as const }, { tick: 'turn' as const }),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        async (ops) => {
          const { pa, pb, frames } = await observedPipes()
          const got = received(pb)
          const ended = once(pb, 'end')
          const sent: Buffer[] = []
          let writes = 0
          for (const op of ops) {
            if ('write' in op) {
              const data = Buffer.alloc(op.write, sent.length + 1)
              sent.push(Buffer.from(data))
              pa.write(data)
              data.fill(0) // the pipe must not depend on the caller's buffer after write()
              writes++
            } else if (op.tick === 'micro') await Promise.resolve()
            else await nextTurn()
          }
          pa.end()
          await ended
          const all = Buffer.concat(sent)
          expect(got.length()).toBe(all.length)
          expect(got.bytes().equals(all)).toBe(true)
          // Never more frames than writes need (+1: the close frame).
          const needed = sent.reduce((n, b) => n + Math.ceil(b.length / MAX_FRAME_PLAINTEXT), 0)
          expect(frames.length).toBeLessThanOrEqual(Math.max(needed, writes) + 1)
          expect(frames.every((f) => f <= MAX_FRAME_LENGTH)).toBe(true)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('bounds memory for a slow reader under many small writes', async () => {
    const { client, server } = await tcpPair()
    cleanups.push(
      () => client.destroy(),
      () => server.destroy(),
    )
    const [pa, pb] = await pipes(client, server)
    pb.pause()
    let accepted = 0
    // 1000 × 64 B per tick while write() says yes; stop once no 'drain' comes within 300 ms.
    for (;;) {
      let ok = true
      for (let i = 0; i < 1000 && ok; i++) {
        ok = pa.write(message(i))
        accepted += 64
      }
      if (!ok) {
        const drained = await Promise.race([
          once(pa, 'drain').then(() => true),
          new Promise((r) => setTimeout(() => r(false), 300)),
        ])
        if (!drained) break
      } else await nextTurn()
      if (accepted > 256 * 1024 * 1024) break
    }
    expect(accepted).toBeLessThan(64 * 1024 * 1024)
    expect(pa.writableLength).toBeLessThan(1024 * 1024)
    let got = 0
    pb.on('data', (c: Buffer) => {
      got += c.length
    })
    pb.resume()
    pa.end()
    await once(pb, 'end')
    expect(got).toBe(accepted)
  })
})

describe('secure pipe: no runt frames', () => {
  it('64 KiB writes become full frames, not 65,519 + 17 each (over TCP, with backpressure)', async () => {
    const { client, server } = await tcpPair()
    cleanups.push(
      () => client.destroy(),
      () => server.destroy(),
    )
    const [pa, pb] = await pipes(client, server)
    const frames = spyFrames(server)
    const got = received(pb)
    const chunk = Buffer.alloc(65_536, 9)
    const count = 64
    for (let i = 0; i < count; i++) {
      if (!pa.write(chunk)) await once(pa, 'drain')
    }
    pa.end()
    await once(pb, 'end')
    const total = count * chunk.length
    expect(got.length()).toBe(total)
    const data = frames.slice(0, -1) // the last one is the close frame
    expect(frames.at(-1)).toBe(16)
    expect(data.length).toBe(Math.ceil(total / MAX_FRAME_PLAINTEXT))
    expect(data.slice(0, -1).every((f) => f === MAX_FRAME_LENGTH)).toBe(true)
  })

  it('one 64 KiB write is one full frame and the 17-byte rest (the most a frame holds)', async () => {
    const { pa, pb, frames } = await observedPipes()
    const got = received(pb)
    pa.write(Buffer.alloc(65_536, 1))
    await nextTurn()
    await nextTurn()
    expect(frames).toEqual([MAX_FRAME_LENGTH, 17 + 16])
    expect(got.length()).toBe(65_536)
  })
})
