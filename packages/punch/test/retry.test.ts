import { createServer } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ConnectLoop,
  type ConnectLoopOptions,
  connectLoop,
  fastRetryDefaults,
  retryDelay,
} from '../src/index.js'
import { freePort } from '../src/sockets/free-port.js'

const policy = { maxMs: 3, attempts: 10, budgetMs: 500 }

describe('retry after a RST', () => {
  it('retries a RST at once (uniform 0…maxMs) within the count and time budget', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        fc.integer({ min: 0, max: 9 }),
        fc.option(fc.double({ min: 0, max: 499, noNaN: true }), { nil: undefined }),
        fc.double({ min: 10, max: 50, noNaN: true }),
        (r, used, since, slow) => {
          const d = retryDelay(
            'ECONNREFUSED',
            { fastUsed: used, sinceFirstRefusedMs: since },
            slow,
            policy,
            () => r,
          )
          expect(d.fast).toBe(true)
          expect(d.delayMs).toBeGreaterThanOrEqual(0)
          expect(d.delayMs).toBeLessThanOrEqual(policy.maxMs)
        },
      ),
    )
  })

  it('falls back to the jittered slow pace past the budget, for other errors, or when off', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        fc.double({ min: 10, max: 50, noNaN: true }),
        fc.constantFrom(
          ['ECONNREFUSED', 10, 0, policy] as const, // count spent
          ['ECONNREFUSED', 0, 500, policy] as const, // time spent
          ['timeout', 0, 0, policy] as const, // a dropped SYN: no reason to hurry
          ['EADDRINUSE', 0, 0, policy] as const, // the 4-tuple is still closing
          ['ECONNREFUSED', 0, 0, undefined] as const, // off (symmetric NAT, spray)
        ),
        (r, slow, [code, used, since, fast]) => {
          const d = retryDelay(
            code,
            { fastUsed: used, sinceFirstRefusedMs: since },
            slow,
            fast,
            () => r,
          )
          expect(d.fast).toBe(false)
          expect(d.delayMs).toBeGreaterThanOrEqual(slow * 0.5)
          expect(d.delayMs).toBeLessThanOrEqual(slow * 1.5)
        },
      ),
    )
  })

  it('spreads fast pauses over the interval (no fixed phase between two loops)', () => {
    const draws = Array.from(
      { length: 200 },
      () => retryDelay('ECONNREFUSED', { fastUsed: 0, sinceFirstRefusedMs: 0 }, 50, policy).delayMs,
    )
    expect(Math.min(...draws)).toBeLessThan(0.5)
    expect(Math.max(...draws)).toBeGreaterThan(2.5)
    expect(fastRetryDefaults.maxMs).toBeLessThanOrEqual(5)
  })

  it('a connect loop against a refusing port retries far faster with fast retry, and stops at its count', async () => {
    const closed = await refusingPort()
    const run = async (fast: typeof policy | undefined) => {
      const loop = await loopTo(closed, { windowMs: 400, retryMs: 50, fastRetry: fast })
      await loop.done
      return { attempts: loop.attempts(), refused: loop.refused() }
    }
    const slow = await run(undefined)
    const fast = await run({ maxMs: 3, attempts: 40, budgetMs: 10_000 })
    // Slow: one attempt per ~50 ms over 400 ms. Fast: its 40 quick retries, then the slow pace.
    expect(slow.attempts).toBeLessThanOrEqual(12)
    expect(fast.attempts).toBeGreaterThanOrEqual(41)
    expect(fast.attempts).toBeLessThanOrEqual(41 + 12)
    expect(fast.refused).toBe(fast.attempts)
  })

  it('a rate cap bounds the attempts of all pairs together (the random side of a spray)', async () => {
    const closed = await refusingPort()
    const locals = new Set<number>()
    while (locals.size < 8) locals.add(await freePort('127.0.0.1'))
    const run = async (maxPerSecond: number | undefined) => {
      const started = performance.now()
      const loop = connectLoop({
        pairs: [...locals].map((localPort, index) => ({
          localPort,
          remote: { host: '127.0.0.1', port: closed },
          index,
          maxAttempts: Number.POSITIVE_INFINITY,
        })),
        localAddress: '127.0.0.1',
        startAt: Date.now(),
        clock: { now: () => Date.now(), offset: 0, uncertainty: 0 },
        offsets: [],
        windowMs: 500,
        retryMs: 50,
        fastRetry: { maxMs: 0.5, attempts: Number.POSITIVE_INFINITY, budgetMs: 10_000 },
        ...(maxPerSecond !== undefined ? { maxPerSecond } : {}),
        onSocket: (s) => s.destroy(),
      })
      await loop.done
      return { attempts: loop.attempts(), seconds: (performance.now() - started) / 1000 }
    }
    const capped = await run(200)
    // A burst of 2 tokens (10 ms at 200/s), then at most 200/s for as long as the loop ran.
    expect(capped.attempts).toBeLessThanOrEqual(2 + Math.ceil(200 * capped.seconds) + 1)
    expect(capped.attempts).toBeGreaterThanOrEqual(20)
    const free = await run(undefined)
    expect(free.attempts).toBeGreaterThan(capped.attempts)
  })

  it('a pair with activeMs stops at its own turn’s end, long before the window', async () => {
    const closed = await refusingPort()
    const started = performance.now()
    const loop = await loopTo(closed, {
      windowMs: 10_000,
      activeMs: 150,
      retryMs: 20,
      fastRetry: { maxMs: 1.5, attempts: 3_000, budgetMs: 3_000 },
    })
    await loop.done
    // Generous bound for a loaded machine: far under the 10 s window.
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(loop.attempts()).toBeGreaterThanOrEqual(2)
  })
})

/** A loopback port nobody listens on: each SYN to it is refused at once, as by an RST NAT. */
async function refusingPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen({ host: '127.0.0.1', port: 0 }, r))
  const port = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  return port
}

/** A one-pair connect loop from a fresh loopback port to `port`, starting now. */
async function loopTo(
  port: number,
  opts: Pick<ConnectLoopOptions, 'windowMs' | 'retryMs' | 'fastRetry' | 'activeMs'>,
): Promise<ConnectLoop> {
  const local = await freePort('127.0.0.1')
  return connectLoop({
    pairs: [
      {
        localPort: local,
        remote: { host: '127.0.0.1', port },
        index: 0,
        maxAttempts: Number.POSITIVE_INFINITY,
      },
    ],
    localAddress: '127.0.0.1',
    startAt: Date.now(),
    clock: { now: () => Date.now(), offset: 0, uncertainty: 0 },
    offsets: [0],
    ...opts,
    onSocket: (s) => s.destroy(),
  })
}
