import { createHash, hash, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mintStamp, mintStampSync, verifyStamp } from '../src/index.js'
import { leadingZeroBits, mintStampInThread } from '../src/stamp.js'

const digestOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest()

describe('proof-of-work stamp', () => {
  it('counts leading zero bits', () => {
    expect(leadingZeroBits(Uint8Array.from([0x80]))).toBe(0)
    expect(leadingZeroBits(Uint8Array.from([0x01, 0xff]))).toBe(7)
    expect(leadingZeroBits(Uint8Array.from([0, 0, 0x10]))).toBe(19)
    expect(leadingZeroBits(new Uint8Array(4))).toBe(32)
  })

  it('verifies a minted stamp, for its envelope and difficulty only', () => {
    const digest = digestOf(randomBytes(200))
    const stamp = mintStampSync(digest, 12)
    expect(stamp).toMatch(/^[0-9a-f]{16}$/)
    expect(verifyStamp(digest, stamp, 12)).toBe(true)
    expect(verifyStamp(digest, stamp, 8)).toBe(true)
    // Another envelope's digest: the stamp is worth nothing there.
    expect(verifyStamp(digestOf(randomBytes(200)), stamp, 12)).toBe(false)
    // Malformed stamps and stamps switched off.
    // (Upper case only counts when the nonce has a letter: a small nonce is often all digits.)
    const upper = stamp.toUpperCase() === stamp ? 'Z'.repeat(16) : stamp.toUpperCase()
    for (const bad of [undefined, '', 'xyz', upper, `${stamp}00`, stamp.slice(2)]) {
      expect(verifyStamp(digest, bad, 12)).toBe(false)
    }
    expect(verifyStamp(digest, stamp, 0)).toBe(false)
  })

  it('refuses a stamp with too few bits', () => {
    const digest = digestOf(randomBytes(64))
    // Find a nonce whose hash has exactly 4 leading zero bits (about one in 32 does).
    const input = Buffer.concat([Buffer.from('p2pd/v1/signal/pow'), digest, Buffer.alloc(8)])
    let stamp = ''
    for (let n = 0; !stamp; n++) {
      input.writeUInt32BE(n, input.length - 4)
      if (leadingZeroBits(hash('sha256', input, 'buffer')) === 4) {
        stamp = input.subarray(input.length - 8).toString('hex')
      }
    }
    expect(verifyStamp(digest, stamp, 4)).toBe(true)
    expect(verifyStamp(digest, stamp, 5)).toBe(false)
  })

  it('a random stamp almost never passes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string(), (d, s) => {
        // Probability 2^-16 per run for any string: a failure here means the check is broken.
        expect(verifyStamp(d, s, 16)).toBe(false)
      }),
      { numRuns: 300 },
    )
    // Any single-byte change of the digest breaks the binding (up to chance 2^-10 each).
    let carried = 0
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 255 }),
        (d, flip) => {
          const stamp = mintStampSync(d, 10)
          expect(verifyStamp(d, stamp, 10)).toBe(true)
          const other = Uint8Array.from(d)
          other[flip % 32] = (other[flip % 32] as number) ^ (1 + (flip >> 5))
          if (verifyStamp(other, stamp, 10)) carried++
        },
      ),
      { numRuns: 60 },
    )
    expect(carried).toBeLessThanOrEqual(2)
  })

  it('mints in slices without stalling the event loop, and stops on abort', async () => {
    const digest = digestOf(randomBytes(32))
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const started = performance.now()
    const stamp = await mintStamp(digest, 16)
    const ms = performance.now() - started
    clearInterval(timer)
    expect(verifyStamp(digest, stamp, 16)).toBe(true)
    // Timers ran while minting (a blocking search would let at most one through).
    if (ms > 20) expect(ticks).toBeGreaterThan(1)
    const aborted = new AbortController()
    aborted.abort()
    await expect(mintStamp(digest, 24, aborted.signal)).rejects.toMatchObject({
      name: 'AbortError',
    })
  })

  it('shares one slice per event-loop turn among concurrent mints', async () => {
    // Ten first contacts at once (a busy node): each turn must still end within a few ms.
    const gaps: number[] = []
    let last = performance.now()
    let ticking = true
    const tick = () => {
      const now = performance.now()
      gaps.push(now - last)
      last = now
      if (ticking) setTimeout(tick, 0)
    }
    setTimeout(tick, 0)
    const digests = Array.from({ length: 10 }, () => digestOf(randomBytes(32)))
    const stamps = await Promise.all(digests.map((d) => mintStampInThread(d, 15)))
    ticking = false
    for (const [k, s] of stamps.entries()) {
      expect(verifyStamp(digests[k] as Buffer, s, 15)).toBe(true)
    }
    const sorted = gaps.sort((a, b) => a - b)
    // The median gap between timer turns (robust to the scheduler's own hiccups).
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(25)
  })
})
