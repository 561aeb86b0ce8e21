import { AbortError, type Clock } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import type { NtpClockEvent } from '../src/clock.js'
import { NtpClock, type NtpClockOptions } from '../src/clock.js'
import { localNow } from '../src/local-clock.js'
import { SntpServer } from '../src/server.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c()
})

async function setup(offsetMs: number, opts: Partial<NtpClockOptions> = {}) {
  const server = new SntpServer({ offsetMs })
  const { host, port } = await server.start()
  const clock = new NtpClock({
    servers: [{ host, port }],
    samplesPerServer: 2,
    spacingMs: 5,
    queryTimeoutMs: 300,
    ...opts,
  })
  cleanup.push(
    () => clock.stop(),
    () => server.close(),
  )
  return { server, clock }
}

// Offsets are checked against the clock's own error bound (`uncertainty`), which is what callers
// rely on; fixed caps only make sure that bound stays meaningful on a loaded machine.
describe('NtpClock', () => {
  it('is a Clock corrected by the measured offset', async () => {
    const { clock } = await setup(1500)
    const asClock: Clock = clock
    expect(clock.synced).toBe(false)
    expect(clock.uncertainty).toBe(1000)
    await clock.ready({ timeoutMs: 2000 })
    expect(Math.abs(asClock.now() - localNow() - 1500)).toBeLessThanOrEqual(
      asClock.uncertainty + 0.1,
    )
    expect(Math.abs(asClock.offset - 1500)).toBeLessThanOrEqual(asClock.uncertainty)
    expect(asClock.uncertainty).toBeGreaterThan(0)
    expect(asClock.uncertainty).toBeLessThan(50)
    expect(clock.lastEstimate?.servers).toHaveLength(1)
  })

  it('steps a negative correction when nobody has read the clock in between', async () => {
    const { server, clock } = await setup(1000)
    await clock.refresh()
    server.offsetMs = 0
    await clock.refresh()
    expect(Math.abs(clock.offset)).toBeLessThanOrEqual(clock.uncertainty)
  })

  it('never goes backwards under a negative correction, slews and converges', async () => {
    const { server, clock } = await setup(1000, { slewRateMsPerS: 500 })
    await clock.refresh()
    // A busy reader: every value it sees must be ≥ the one before.
    let last = clock.now()
    let backwards = 0
    let reads = 0
    const reader = setInterval(() => {
      const v = clock.now()
      if (v < last) backwards++
      last = v
      reads++
    }, 1)
    cleanup.push(() => clearInterval(reader))
    await new Promise((r) => setTimeout(r, 20))

    server.offsetMs = 0
    await clock.refresh()
    const lagJustAfter = clock.offset
    const p0 = performance.now()
    expect(lagJustAfter).toBeGreaterThan(900) // not stepped back: still ~1 s ahead
    expect(clock.uncertainty).toBeGreaterThanOrEqual(lagJustAfter - 2) // lag counts as error
    await new Promise((r) => setTimeout(r, 1000))
    // Slewing at 500 ms/s exactly: neither faster nor slower.
    const mid = clock.offset
    const expected = lagJustAfter - 0.5 * (performance.now() - p0)
    expect(Math.abs(mid - Math.max(0, expected))).toBeLessThan(20)
    while (performance.now() - p0 < 2100) await new Promise((r) => setTimeout(r, 50))
    clearInterval(reader)
    expect(Math.abs(clock.offset)).toBeLessThanOrEqual(clock.uncertainty) // converged
    expect(clock.uncertainty).toBeLessThan(50) // the lag is gone from it
    expect(backwards).toBe(0)
    expect(reads).toBeGreaterThan(200)
  })

  it('steps forward at once', async () => {
    const { server, clock } = await setup(0)
    await clock.refresh()
    const before = clock.now()
    server.offsetMs = 700
    await clock.refresh()
    expect(clock.now() - before).toBeGreaterThan(690)
    expect(Math.abs(clock.offset - 700)).toBeLessThanOrEqual(clock.uncertainty)
  })

  it('refreshes in the background and reports each attempt', async () => {
    const events: NtpClockEvent[] = []
    const { server, clock } = await setup(100, { refreshIntervalMs: 150 })
    clock.subscribe((e) => events.push(e))
    clock.start()
    await clock.ready()
    server.offsetMs = 400
    await new Promise((r) => setTimeout(r, 400))
    expect(events.filter((e) => e.type === 'sync').length).toBeGreaterThanOrEqual(2)
    expect(Math.abs(clock.offset - 400)).toBeLessThanOrEqual(clock.uncertainty)
  })

  it('grows its uncertainty with time since the sync', async () => {
    const { clock } = await setup(0, { driftPpm: 100_000 }) // absurd drift, to see it in 100 ms
    await clock.refresh()
    const u0 = clock.uncertainty
    await new Promise((r) => setTimeout(r, 100))
    expect(clock.uncertainty - u0).toBeGreaterThan(8)
  })

  it('ready() fails with the reason, and stop() cancels it', async () => {
    const { clock } = await setup(0, {
      servers: ['127.0.0.1:9'], // nobody answers on loopback's discard port
      samplesPerServer: 1,
      queryTimeoutMs: 50,
      retryIntervalMs: 50,
    })
    await expect(clock.ready({ timeoutMs: 400 })).rejects.toMatchObject({ code: 'NTP_NOT_SYNCED' })
    expect(clock.lastError).toBeDefined()
    const pending = clock.ready({ timeoutMs: 5000 })
    setTimeout(() => clock.stop(), 20)
    await expect(pending).rejects.toBeInstanceOf(AbortError)
  })

  it('keeps running when a listener throws', async () => {
    const { clock } = await setup(10, {
      onSync: () => {
        throw new Error('listener bug')
      },
    })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    cleanup.push(() => void process.off('warning', onWarning))
    await clock.refresh()
    expect(clock.synced).toBe(true)
    await new Promise((r) => setImmediate(r))
    expect(warnings.join()).toMatch(/listener bug/)
  })
})
