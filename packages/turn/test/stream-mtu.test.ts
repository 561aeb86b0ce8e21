import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createMemoryLinkPair, ReliableStream } from '../src/index.js'
import { MtuProbe } from '../src/stream/mtu-probe.js'
import { decodePacket, encodeProbe, PacketType } from '../src/stream/packet.js'

const fast = { minRtoMs: 20, rtoSlackMs: 10, initialRtoMs: 100, tickMs: 5, lingerMs: 300 }

/** Sends `bytes` from a to b over a memory link with `opts`; returns both streams' final stats. */
async function transfer(opts: Parameters<typeof createMemoryLinkPair>[0], bytes: number) {
  const [la, lb] = createMemoryLinkPair({ delayMs: 2, seed: 3, ...opts })
  // A probe counts as lost after one RTO without an answer: a floor of 100 ms (not `fast`'s
  // 20) keeps a loaded machine's stalls from losing probes the path carries (seen in CI: 1200).
  const a = new ReliableStream(la, { conv: 9, ...fast, minRtoMs: 100 })
  const b = new ReliableStream(lb, { conv: 9, ...fast, minRtoMs: 100 })
  const data = randomBytes(bytes)
  const got: Buffer[] = []
  b.on('data', (c: Buffer) => got.push(c))
  a.resume()
  const ended = once(b, 'end')
  // Probing runs only while data flows (it needs an RTT sample) and each next probe waits an
  // RTO, so the data goes in 50 slices 20 ms apart: the transfer outlasts the probes however fast
  // or slow the machine moves the bytes.
  await new Promise((r) => setTimeout(r, 300))
  const step = Math.ceil(bytes / 50)
  for (let i = 0; i < bytes; i += step) {
    a.write(data.subarray(i, i + step))
    await new Promise((r) => setTimeout(r, 20))
  }
  a.end()
  b.end()
  await ended
  const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex')
  expect(sha(Buffer.concat(got))).toBe(sha(data))
  await Promise.all([a.released, b.released])
  return { a: a.stats, la: la.stats }
}

describe('path-MTU probing', () => {
  it('uses the largest probed size the path carries', async () => {
    const { a, la } = await transfer({ maxPacketSize: 1468, mtu: 1400 }, 2_000_000)
    expect(a.segmentSize).toBe(1400 - 14)
    expect(la.tooBig).toBeGreaterThanOrEqual(2) // the 1,468 and 1,448 probes
    expect(la.tooBig).toBeLessThan(10) // no data segment was too big
  }, 30_000)

  it('goes up to the link’s stated maximum on a clean path', async () => {
    const { a } = await transfer({ maxPacketSize: 1468 }, 1_000_000)
    expect(a.segmentSize).toBe(1454)
  }, 30_000)

  it('keeps the starting size when the link states no maximum or nothing larger passes', async () => {
    expect((await transfer({}, 500_000)).a.segmentSize).toBe(1200)
    expect((await transfer({ maxPacketSize: 1468, mtu: 1214 }, 500_000)).a.segmentSize).toBe(1200)
  }, 30_000)

  it('probe bookkeeping: one try per size, largest first; unprobed answers change nothing', () => {
    const p = new MtuProbe(1214, 1468)
    expect(p.due(0, 100)).toBe(1468)
    expect(p.due(50, 100)).toBeUndefined()
    expect(p.due(100, 100)).toBe(1448)
    expect(p.onAck(1500)).toBeUndefined()
    expect(p.onAck(1448)).toBe(1448)
    expect(p.onAck(1400)).toBeUndefined()
    expect(p.active).toBe(false)
    expect(new MtuProbe(1214, undefined).active).toBe(false)
  })

  it('a probe decodes with its length as its size', () => {
    expect(decodePacket(encodeProbe(1, 2, 1400))).toEqual({
      type: PacketType.Probe,
      conv: 1,
      ts: 2,
      size: 1400,
    })
  })
})
