import { describe, expect, it } from 'vitest'
import {
  AbortError,
  Deadline,
  linkSignals,
  sleep,
  TimeoutError,
  throwIfAborted,
  withDeadline,
} from '../src/index.js'

// vitest runs every project with --expose-gc (vitest.config.ts).
const gc = (globalThis as { gc?: () => void }).gc as () => void

/** Calls gc() every `everyMs` until stopped: deadlines must fire through full collections. */
function collectWhileWaiting(everyMs = 50): () => void {
  const timer = setInterval(gc, everyMs)
  return () => clearInterval(timer)
}

/**
 * How late a plain timer of `ms`, started now, fires: the machine's own lateness at this moment
 * (a loaded CI box), allowed on top of a deadline's bound. A deadline that does not fire, or
 * fires far later than a plain timer, still fails.
 */
function timerLateness(ms: number): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve) =>
    setTimeout(() => resolve(Math.max(0, performance.now() - t0 - ms)), ms),
  )
}

describe('Deadline', () => {
  it('needs a real gc() (the suite runs with --expose-gc)', () => {
    expect(typeof gc).toBe('function')
  })

  it('fires on time through forced garbage collections, with a TimeoutError', async () => {
    const stop = collectWhileWaiting(50)
    try {
      const fired = await Promise.all(
        [300, 400, 500, 600, 700].map(async (ms) => {
          // Nothing but the deadline's own listener holds the signal: the Node 20 trap.
          const late = timerLateness(ms)
          const t0 = performance.now()
          const reason = await new Promise<unknown>((resolve) => {
            new Deadline(ms, new AbortController().signal, 'test').signal.addEventListener(
              'abort',
              function (this: AbortSignal) {
                resolve(this.reason)
              },
            )
          })
          return { ms, took: performance.now() - t0, reason, late: await late }
        }),
      )
      for (const f of fired) {
        expect(f.reason).toBeInstanceOf(TimeoutError)
        expect(f.took).toBeGreaterThanOrEqual(f.ms - 2)
        // +10 %, plus one full collection's pause (tens of ms on a busy 2-core machine), plus
        // however late a plain timer started beside it fired.
        expect(f.took).toBeLessThanOrEqual(f.ms * 1.1 + 40 + f.late)
      }
    } finally {
      stop()
    }
  })

  it('passes on a parent abort reason as is, and detaches from the parent on dispose', async () => {
    const parent = new AbortController()
    const d = new Deadline(5_000, parent.signal)
    const reason = new AbortError('caller gave up')
    parent.abort(reason)
    expect(d.signal.reason).toBe(reason)
    expect(() => throwIfAborted(d.signal)).toThrow(AbortError)

    const parent2 = new AbortController()
    const d2 = new Deadline(5_000, parent2.signal)
    d2.dispose()
    parent2.abort()
    expect(d2.signal.aborted).toBe(false)
  })

  it('starts aborted when a parent already is', () => {
    const parent = new AbortController()
    parent.abort(new TimeoutError('already'))
    const d = new Deadline(5_000, [undefined, parent.signal])
    expect(d.aborted).toBe(true)
    expect(d.signal.reason).toBeInstanceOf(TimeoutError)
  })

  it('has no timer with an infinite timeout (linkSignals follows every parent)', async () => {
    const a = new AbortController()
    const b = new AbortController()
    const link = linkSignals(a.signal, undefined, b.signal)
    expect(link.remainingMs).toBe(Number.POSITIVE_INFINITY)
    await sleep(10)
    expect(link.aborted).toBe(false)
    b.abort()
    expect(link.aborted).toBe(true)
    link.dispose()
  })

  it('a linked signal survives gc() while only its listener holds it', async () => {
    const parent = new AbortController()
    const seen = new Promise<boolean>((resolve) => {
      linkSignals(parent.signal).signal.addEventListener('abort', () => resolve(true))
    })
    gc()
    await sleep(20)
    gc()
    parent.abort()
    await expect(Promise.race([seen, sleep(500).then(() => false)])).resolves.toBe(true)
  })
})

describe('withDeadline', () => {
  it('settles with a TimeoutError on time even when the work ignores its signal', async () => {
    const stop = collectWhileWaiting(50)
    try {
      const late = timerLateness(500)
      const t0 = performance.now()
      const err = await withDeadline(
        500,
        undefined,
        () => new Promise(() => {}),
        'silent op',
      ).catch((e: unknown) => e)
      const took = performance.now() - t0
      expect(err).toBeInstanceOf(TimeoutError)
      expect((err as Error).message).toContain('silent op timed out after 500 ms')
      expect(took).toBeLessThanOrEqual(550 + 40 + (await late))
    } finally {
      stop()
    }
  })

  it('returns the result and releases its timer', async () => {
    expect(await withDeadline(1_000, undefined, async (s) => (s.aborted ? 0 : 42))).toBe(42)
  })

  it('rejects at once when the caller aborts', async () => {
    const ctrl = new AbortController()
    setTimeout(() => ctrl.abort(), 10)
    await expect(withDeadline(5_000, ctrl.signal, () => sleep(5_000))).rejects.toBeInstanceOf(
      AbortError,
    )
  })

  it('keeps the process alive while pending (a child process awaiting it exits 0, not 13)', async () => {
    const { spawnSync } = await import('node:child_process')
    const { fileURLToPath } = await import('node:url')
    const src = fileURLToPath(new URL('../src/deadline.ts', import.meta.url))
    const script = `
      import { withDeadline } from ${JSON.stringify(src)}
      const err = await withDeadline(300, undefined, () => new Promise(() => {})).catch((e) => e)
      console.log(err.code)
    `
    const out = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    )
    expect(out.stdout.trim()).toBe('TIMEOUT')
    expect(out.status).toBe(0)
  })
})
