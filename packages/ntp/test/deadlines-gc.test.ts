import { spawnSync } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { fileURLToPath } from 'node:url'
import { TimeoutError } from '@p2pd/interface'
import { underGc } from '@p2pd/testkit/gc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { querySntp } from '../src/client.js'
import { NtpClock } from '../src/clock.js'
import { NtpError } from '../src/errors.js'

/** Settled no sooner than `ms`, and within the bound. */
function expectOnTime(r: { ms: number; limitMs: number }, ms: number): void {
  expect(r.ms).toBeGreaterThanOrEqual(ms - 5)
  expect(r.ms).toBeLessThanOrEqual(r.limitMs)
}

describe('NTP deadlines survive garbage collection', () => {
  let silent: Socket
  let port = 0
  beforeAll(async () => {
    silent = createSocket('udp4') // receives every query, answers none
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
    port = silent.address().port
  })
  afterAll(() => new Promise<void>((resolve) => silent.close(() => resolve())))

  it('querySntp to a silent server rejects with a TimeoutError on time', async () => {
    const r = await underGc(1000, () =>
      querySntp(
        { host: '127.0.0.1', port },
        { timeoutMs: 1000, signal: new AbortController().signal },
      ),
    )
    expect(r.err).toBeInstanceOf(TimeoutError)
    expectOnTime(r, 1000)
  })

  it('NtpClock.ready() against a silent server rejects with a TimeoutError on time', async () => {
    const clock = new NtpClock({ servers: [{ host: '127.0.0.1', port }] })
    try {
      const r = await underGc(1000, () =>
        clock.ready({ timeoutMs: 1000, signal: new AbortController().signal }),
      )
      expect(r.err).toBeInstanceOf(TimeoutError)
      expectOnTime(r, 1000)
    } finally {
      clock.stop()
    }
  })

  it('NtpClock.ready() with no server settles at its deadline with the refresh error', async () => {
    const clock = new NtpClock({ servers: [] })
    try {
      const r = await underGc(1000, () => clock.ready({ timeoutMs: 1000 }))
      expect(r.err).toBeInstanceOf(NtpError)
      expect((r.err as NtpError).code).toBe('NTP_NOT_SYNCED')
      expectOnTime(r, 1000)
    } finally {
      clock.stop()
    }
  })

  it('a program that only awaits ready() prints the error and exits 0 (not 13), promptly', () => {
    const clockSrc = fileURLToPath(new URL('../src/clock.ts', import.meta.url))
    // The silent server lives in the child and is unref'd: only ready() may hold the process.
    const script = `
      import { createSocket } from 'node:dgram'
      import { NtpClock } from ${JSON.stringify(clockSrc)}
      setInterval(() => globalThis.gc(), 50).unref()
      const silent = createSocket('udp4')
      await new Promise((resolve) => silent.bind(0, '127.0.0.1', resolve))
      silent.unref()
      const clock = new NtpClock({ servers: [{ host: '127.0.0.1', port: silent.address().port }] })
      const t0 = performance.now()
      let controlMs = 1500 // a plain timer beside it: how late timers fire on this machine now
      setTimeout(() => { controlMs = performance.now() - t0 }, 1500).unref()
      const err = await clock.ready({ timeoutMs: 1500 }).catch((e) => e)
      const settled = performance.now()
      process.on('exit', () => {
        console.log(JSON.stringify({
          code: err?.code, readyMs: settled - t0, lateMs: Math.max(0, controlMs - 1500),
          exitAfterMs: performance.now() - settled,
        }))
      })
    `
    const out = spawnSync(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        '--conditions=@p2pd/source',
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    )
    expect(out.stderr).toBe('')
    expect(out.status).toBe(0)
    const seen = JSON.parse(out.stdout.trim()) as {
      code: string
      readyMs: number
      lateMs: number
      exitAfterMs: number
    }
    expect(seen.code).toBe('TIMEOUT')
    expect(seen.readyMs).toBeGreaterThanOrEqual(1495)
    expect(seen.readyMs).toBeLessThanOrEqual(1500 * 1.1 + 50 + seen.lateMs)
    // The background refresh still in flight must not keep a finished program alive.
    expect(seen.exitAfterMs).toBeLessThan(250)
  })
})
