import { once } from 'node:events'
import { type Duplex, Writable } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { useSecurePipes } from './helpers/pipes.js'
import { framewise, middlebox } from './helpers/streams.js'

const { pipes } = useSecurePipes()

/**
 * Pipes whose a → b frames (after the handshake's) reach b `batch` at a time, in one chunk: the
 * receiver opens several frames out of one socket read.
 */
async function batchedPipes(batch: number) {
  const box = middlebox()
  const [pa, pb] = await pipes(box.left, box.right)
  let held: Buffer[] = []
  box.tamper.toRight = framewise((frame) => {
    held.push(frame)
    if (held.length < batch) return []
    const one = Buffer.concat(held)
    held = []
    return [one]
  })
  return { pa, pb }
}

const message = (i: number) => Buffer.alloc(64, i + 1)
const nextTurn = () => new Promise((r) => setImmediate(r))

/** Writes `count` messages, one frame each (one per turn). */
async function sendFrames(pipe: Duplex, count: number, first = 0): Promise<void> {
  for (let i = first; i < first + count; i++) {
    pipe.write(message(i))
    await nextTurn()
  }
}

describe('secure pipe: reads', () => {
  it('hands a flowing reader its frames without push() after the first', async () => {
    const { pa, pb } = await batchedPipes(1)
    const got: Buffer[] = []
    pb.on('data', (c: Buffer) => got.push(c))
    const push = vi.spyOn(pb, 'push')
    await sendFrames(pa, 5)
    expect(Buffer.concat(got)).toEqual(Buffer.concat([0, 1, 2, 3, 4].map(message)))
    // The first frame goes through push() (it marks the stream as read), the rest straight.
    expect(push).toHaveBeenCalledTimes(1)
  })

  it('a reader that pauses in the middle of a chunk gets the rest after resume(), in order', async () => {
    const { pa, pb } = await batchedPipes(3)
    const got: number[] = []
    pb.on('data', (c: Buffer) => {
      for (let i = 0; i < c.length; i += 64) got.push(c[i] as number)
      if (got.length === 5) pb.pause() // the second frame of the second chunk
    })
    await sendFrames(pa, 9)
    await nextTurn()
    expect(got).toEqual([1, 2, 3, 4, 5])
    // The sixth is buffered, and so are the frames that kept arriving while paused.
    expect(pb.readableLength).toBe(4 * 64)
    pb.resume()
    await nextTurn()
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    // Flowing again, empty: later frames still arrive in order.
    await sendFrames(pa, 3, 9)
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
  })

  it('honours setEncoding() made while flowing', async () => {
    const { pa, pb } = await batchedPipes(1)
    const got: (string | Buffer)[] = []
    pb.on('data', (c: string | Buffer) => {
      got.push(c)
      if (got.length === 1) pb.setEncoding('hex')
    })
    await sendFrames(pa, 3)
    expect(Buffer.isBuffer(got[0])).toBe(true)
    expect(got.slice(1)).toEqual([message(1).toString('hex'), message(2).toString('hex')])
  })

  it('holds frames for a pipe() destination that asked to wait for drain', async () => {
    const { pa, pb } = await batchedPipes(2)
    const written: number[] = []
    const callbacks: (() => void)[] = []
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _encoding, callback) {
        for (let i = 0; i < chunk.length; i += 64) written.push(chunk[i] as number)
        callbacks.push(callback)
      },
    })
    pb.pipe(slow)
    await sendFrames(pa, 8)
    // The destination is full after one frame: pipe() paused the pipe; nothing went past it.
    expect(written).toEqual([1])
    expect(pb.isPaused()).toBe(true)
    while (written.length < 8) {
      callbacks.shift()?.()
      await nextTurn()
    }
    expect(written).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    callbacks.shift()?.()
  })

  it('a for await reader gets every frame, then the end', async () => {
    const { pa, pb } = await batchedPipes(2)
    const reading = (async () => {
      const got: Buffer[] = []
      for await (const c of pb) got.push(c as Buffer)
      return Buffer.concat(got)
    })()
    await sendFrames(pa, 5) // + the close frame: three chunks of two frames
    pa.end()
    expect(await reading).toEqual(Buffer.concat([0, 1, 2, 3, 4].map(message)))
  })

  it("emits 'end' after the last 'data', and an error thrown by a listener destroys the pipe", async () => {
    const { pa, pb } = await batchedPipes(1)
    const events: string[] = []
    pb.on('data', () => events.push('data'))
    pb.on('end', () => events.push('end'))
    await sendFrames(pa, 3)
    pa.end()
    await once(pb, 'end')
    expect(events).toEqual(['data', 'data', 'data', 'end'])

    const second = await batchedPipes(1)
    const boom = new Error('listener failed')
    let calls = 0
    second.pb.on('data', () => {
      calls++
      if (calls === 2) throw boom
    })
    second.pa.on('error', () => {}) // its stream ends without a close frame when pb dies
    const failed = once(second.pb, 'error')
    await sendFrames(second.pa, 2)
    expect((await failed)[0]).toBe(boom)
    expect(second.pb.destroyed).toBe(true)
  })
})
