import { requireBinary } from '@p2pd/testkit'
import { canRunChrony, startChrony } from '@p2pd/testkit/chrony'
import { describe, expect, it } from 'vitest'
import { querySntp } from '../src/client.js'
import { measureOffset } from '../src/measure.js'

// chronyd only starts as root. In CI (CI=true) this always runs, so a missing chrony or a
// missing root fails; elsewhere a non-root run skips with a visible reason. A missing chrony
// binary is a failure everywhere (startChrony throws MissingServerError).
const skipReason =
  !canRunChrony() && process.env.CI !== 'true' ? 'chronyd needs root (not root, not CI)' : ''
if (skipReason) console.warn(`SKIPPED chrony tests: ${skipReason}`)

it('has chronyd to test against (fails, never skips, when chrony is missing)', () => {
  expect(requireBinary('chronyd', 'chrony')).toMatch(/chronyd$/)
})

describe.skipIf(skipReason !== '')('against a real chronyd on loopback', () => {
  it('agrees with the system clock to within 5 ms', async () => {
    const chrony = await startChrony()
    try {
      const server = { host: chrony.host, port: chrony.port }
      const one = await querySntp(server)
      expect(one.stratum).toBe(8)
      // One sample is only as good as its round trip (a loaded CPU can stretch it) plus our own
      // clock reading error.
      expect(Math.abs(one.offset)).toBeLessThanOrEqual(one.delay / 2 + one.localError + 0.05)

      const r = await measureOffset([server], { samplesPerServer: 8, spacingMs: 25 })
      expect(Math.abs(r.offset)).toBeLessThanOrEqual(5)
      // chronyd serves the system clock, so the truth is 0: the bound must hold.
      expect(Math.abs(r.offset)).toBeLessThanOrEqual(r.uncertainty)
      const delays = r.samples.map((s) => s.delay)
      console.log(
        `chrony loopback: offset ${r.offset.toFixed(3)} ms, uncertainty ${r.uncertainty.toFixed(3)} ms, ` +
          `delay min ${Math.min(...delays).toFixed(3)} / max ${Math.max(...delays).toFixed(3)} ms, ` +
          `root dispersion ${r.samples[0]?.rootDispersion.toFixed(3)} ms`,
      )
    } finally {
      await chrony.stop()
    }
  })
})
