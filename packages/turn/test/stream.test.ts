import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createMemoryLinkPair, ReliableStream, StreamError } from '../src/index.js'

function sha256(chunks: Buffer[]): string {
  const h = createHash('sha256')
  for (const c of chunks) h.update(c)
  return h.digest('hex')
}

/** Reads until 'end' (without destroying the stream, unlike `for await`). */
function collect(stream: ReliableStream): Promise<Buffer[]> {
  const out: Buffer[] = []
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer) => out.push(c))
    stream.once('end', () => resolve(out))
    stream.once('error', reject)
  })
}

/** Writes `data` in random-sized chunks, honouring backpressure, then ends. */
async function writeAll(stream: ReliableStream, data: Buffer): Promise<void> {
  let off = 0
  while (off < data.length) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 100_000))
    if (!stream.write(data.subarray(off, off + n))) await once(stream, 'drain')
    off += n
  }
  stream.end()
  await once(stream, 'finish')
}

// The side that closes first lingers longer than the other side's first retransmission of its
// FIN (initialRtoMs: the last FIN's sender may have no RTT sample yet), as TCP's TIME_WAIT does:
// with a 50 ms linger a lost final ACK left that sender retransmitting to nobody (about 1 run in
// 20 at 10 % loss).
const fast = { minRtoMs: 20, rtoSlackMs: 10, initialRtoMs: 100, tickMs: 5, lingerMs: 300 }

describe('reliable stream over a lossy link', () => {
  it('transfers 10 MB byte-identical at 5 % loss + reordering + duplication', async () => {
    const [la, lb] = createMemoryLinkPair({ loss: 0.05, reorder: 0.05, duplicate: 0.05, seed: 7 })
    const a = new ReliableStream(la, { conv: 42, ...fast })
    const b = new ReliableStream(lb, { conv: 42, ...fast })
    const data = randomBytes(10 * 1024 * 1024)
    const started = performance.now()
    a.resume() // b sends nothing but its FIN
    const [received] = await Promise.all([collect(b), writeAll(a, data), b.end()])
    const seconds = (performance.now() - started) / 1000
    expect(Buffer.concat(received).length).toBe(data.length)
    expect(sha256(received)).toBe(sha256([data]))
    expect(la.stats.dropped).toBeGreaterThan(100)
    expect(la.stats.duplicated).toBeGreaterThan(100)
    expect(la.stats.reordered).toBeGreaterThan(100)
    expect(a.stats.retransmits).toBeGreaterThan(0)
    expect(b.stats.duplicates).toBeGreaterThan(0)
    console.log(
      `10 MB lossy: ${(10 / seconds).toFixed(1)} MB/s, ${a.stats.retransmits} retransmits, ` +
        `${a.stats.timeouts} timeouts, srtt ${a.stats.srttMs?.toFixed(1)} ms`,
    )
    await Promise.all([a.released, b.released])
  }, 60_000)

  it('carries both directions at once and closes cleanly (FIN handshake)', async () => {
    const [la, lb] = createMemoryLinkPair({ loss: 0.03, reorder: 0.1, seed: 3 })
    const a = new ReliableStream(la, { conv: 1, ...fast })
    const b = new ReliableStream(lb, { conv: 1, ...fast })
    const x = randomBytes(500_000)
    const y = randomBytes(300_000)
    const [fromA, fromB] = await Promise.all([
      collect(b),
      collect(a),
      writeAll(a, x),
      writeAll(b, y),
    ])
    expect(Buffer.concat(fromA).equals(x)).toBe(true)
    expect(Buffer.concat(fromB).equals(y)).toBe(true)
    // Both FINs through: the links are released without any further action.
    await Promise.all([a.released, b.released])
    expect(a.stats.retransmits + b.stats.retransmits).toBeGreaterThan(0)
  })

  it('applies backpressure to the writer when the reader does not read', async () => {
    const [la, lb] = createMemoryLinkPair()
    const a = new ReliableStream(la, { conv: 9, ...fast, sendBufferBytes: 64 * 1024 })
    const b = new ReliableStream(lb, { conv: 9, ...fast, receiveBufferBytes: 128 * 1024 })
    b.pause()
    let accepted = 0
    const chunk = Buffer.alloc(16 * 1024)
    for (;;) {
      if (a.write(chunk)) {
        accepted += chunk.length
        continue
      }
      accepted += chunk.length
      const drained = await Promise.race([
        once(a, 'drain').then(() => true),
        new Promise((r) => setTimeout(() => r(false), 300)),
      ])
      if (!drained) break
    }
    // Bounded by the receive buffer + the send buffer + one write's worth, not unbounded.
    expect(accepted).toBeLessThanOrEqual(128 * 1024 + 64 * 1024 + 2 * 16 * 1024)
    expect(b.readableLength).toBeLessThanOrEqual(128 * 1024)
    // Reading reopens the window and the writer drains.
    const drained = once(a, 'drain')
    b.resume()
    await drained
    a.destroy()
    b.destroy()
  })

  it('ignores other conversations and garbage, and resets the peer on destroy', async () => {
    const [la, lb] = createMemoryLinkPair()
    const a = new ReliableStream(la, { conv: 5, ...fast })
    const b = new ReliableStream(lb, { conv: 5, ...fast })
    const other = new ReliableStream(createMemoryLinkPair()[0], { conv: 6 })
    other.destroy()
    la.send(Buffer.from('garbage that is not a packet'))
    a.write('hello')
    const [got] = (await once(b, 'data')) as [Buffer]
    expect(got.toString()).toBe('hello')
    expect(b.stats.badPackets).toBe(1)
    const err = once(b, 'error')
    a.on('error', () => {}) // our own error, re-emitted by destroy(err)
    a.destroy(new Error('boom'))
    const [e] = (await err) as [StreamError]
    expect(e).toBeInstanceOf(StreamError)
    expect(e.code).toBe('STREAM_RESET')
  })

  it('destroy() without an error still delivers what was written, then the FIN', async () => {
    const [la, lb] = createMemoryLinkPair({ loss: 0.1, seed: 11 })
    const a = new ReliableStream(la, { conv: 2, ...fast })
    const b = new ReliableStream(lb, { conv: 2, ...fast })
    const data = randomBytes(200_000)
    a.write(data)
    a.destroy()
    const got = await collect(b)
    expect(Buffer.concat(got).equals(data)).toBe(true)
    b.end()
    await Promise.all([a.released, b.released])
  })

  it('fails with STREAM_IDLE_TIMEOUT when the peer goes silent', async () => {
    const [la] = createMemoryLinkPair()
    const a = new ReliableStream(la, { conv: 1, idleTimeoutMs: 150, keepAliveMs: 50 })
    const [e] = (await once(a, 'error')) as [StreamError]
    expect(e.code).toBe('STREAM_IDLE_TIMEOUT')
  })

  it('fails with STREAM_DEAD_LINK when nothing is ever acknowledged', async () => {
    const [la] = createMemoryLinkPair({ loss: 1 })
    const a = new ReliableStream(la, {
      conv: 1,
      minRtoMs: 5,
      initialRtoMs: 5,
      maxRtoMs: 10,
      tickMs: 2,
      maxTransmits: 4,
    })
    a.write('lost forever')
    const [e] = (await once(a, 'error')) as [StreamError]
    expect(e.code).toBe('STREAM_DEAD_LINK')
  })
})
