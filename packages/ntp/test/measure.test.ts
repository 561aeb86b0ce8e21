import { createSocket } from 'node:dgram'
import { AbortError } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { KissTracker } from '../src/kiss.js'
import { measureOffset } from '../src/measure.js'
import { SntpServer, type SntpServerOptions } from '../src/server.js'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c()
})

async function servers(...opts: SntpServerOptions[]) {
  return Promise.all(
    opts.map(async (o) => {
      const s = new SntpServer(o)
      const a = await s.start()
      cleanup.push(() => s.close())
      return { s, spec: `${a.host}:${a.port}` }
    }),
  )
}

async function silent(): Promise<string> {
  const s = createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
  cleanup.push(() => new Promise((r) => s.close(() => r())))
  return `127.0.0.1:${s.address().port}`
}

const fast = { samplesPerServer: 3, spacingMs: 10, queryTimeoutMs: 300 }

describe('measureOffset', () => {
  it.each([1500, -800])(
    'agrees with three servers at %i ms, within its uncertainty',
    async (off) => {
      const list = await servers(
        { offsetMs: off },
        { offsetMs: off },
        { offsetMs: off, wireDelayMs: 30 },
      )
      const r = await measureOffset(
        list.map((x) => x.spec),
        fast,
      )
      expect(Math.abs(r.offset - off)).toBeLessThanOrEqual(r.uncertainty)
      expect(Math.abs(r.offset - off)).toBeLessThan(15)
      expect(r.samples).toHaveLength(9)
      expect(r.servers.every((s) => s.samples === 3)).toBe(true)
      // The slow server's 15 ms asymmetry widens the bound but the median does not follow it.
      expect(r.uncertainty).toBeLessThan(50)
    },
  )

  it('asks each server sequentially with the given spacing', async () => {
    const [a] = await servers({})
    const started = Date.now()
    const r = await measureOffset([a!.spec], { samplesPerServer: 4, spacingMs: 100 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    const t0s = r.samples.map((s) => s.t0)
    for (let i = 1; i < t0s.length; i++) expect(t0s[i]! - t0s[i - 1]!).toBeGreaterThanOrEqual(95)
  })

  it('ignores a falseticker and a silent server', async () => {
    const list = await servers({ offsetMs: 200 }, { offsetMs: 200 }, { offsetMs: 9000 })
    const r = await measureOffset([...list.map((x) => x.spec), await silent()], {
      ...fast,
      queryTimeoutMs: 150,
    })
    expect(Math.abs(r.offset - 200)).toBeLessThanOrEqual(r.uncertainty)
    expect(r.servers.find((s) => s.server === list[2]!.spec)?.estimate?.truechimer).toBe(false)
    expect(r.servers[3]).toMatchObject({ samples: 0 })
    expect(r.servers[3]?.error?.name).toBe('TimeoutError')
  })

  it("honours Kiss-o'-Death: DENY bars the server for good, RATE backs off", async () => {
    const [good, deny, rate] = await servers(
      { offsetMs: 5 },
      { kissCode: 'DENY' },
      { kissCode: 'RATE' },
    )
    const kiss = new KissTracker({ rateBackoffMs: 60_000 })
    const specs = [good!.spec, deny!.spec, rate!.spec]
    const r = await measureOffset(specs, { ...fast, kiss })
    expect(Math.abs(r.offset - 5)).toBeLessThanOrEqual(r.uncertainty)
    expect(deny!.s.answered).toBe(1) // stopped after the first kiss
    expect(rate!.s.answered).toBe(1)
    expect(kiss.barred.get(deny!.spec)).toBe('DENY')
    await measureOffset(specs, { ...fast, kiss })
    expect(deny!.s.answered).toBe(1) // never asked again
    expect(rate!.s.answered).toBe(1) // still backing off
    expect(good!.s.answered).toBe(6)
  })

  it('uses what it has when the overall deadline passes', async () => {
    const [a] = await servers({ offsetMs: 50 })
    const r = await measureOffset([a!.spec], {
      samplesPerServer: 10,
      spacingMs: 100,
      timeoutMs: 250,
    })
    expect(r.samples.length).toBeGreaterThanOrEqual(2)
    expect(r.samples.length).toBeLessThan(10)
    expect(Math.abs(r.offset - 50)).toBeLessThanOrEqual(r.uncertainty)
  })

  it('fails with NTP_NO_SAMPLES / TimeoutError / AbortError when it must', async () => {
    const [deny] = await servers({ kissCode: 'DENY' })
    await expect(measureOffset([deny!.spec], fast)).rejects.toMatchObject({
      code: 'NTP_NO_SAMPLES',
    })
    const quiet = await silent()
    await expect(measureOffset([quiet], { ...fast, timeoutMs: 100 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    })
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    await expect(measureOffset([quiet], { ...fast, signal: ac.signal })).rejects.toBeInstanceOf(
      AbortError,
    )
  })
})
