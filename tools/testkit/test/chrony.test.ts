import { describe, expect, it } from 'vitest'
import { ChronyNeedsRootError, canRunChrony, sntpAnswers, startChrony } from '../src/chrony.js'
import { MissingServerError, requireBinary } from '../src/process.js'

// chronyd only starts as root. Outside CI a non-root run skips with a visible reason; in CI
// (CI=true) it always runs, so a missing chrony or missing root fails the build.
const skipReason =
  !canRunChrony() && process.env.CI !== 'true' ? 'chrony tests need root (not root, not CI)' : ''
if (skipReason) console.warn(`SKIPPED: ${skipReason}`)

describe('chrony launcher', () => {
  it('finds chronyd (fails, never skips, when chrony is not installed)', () => {
    expect(requireBinary('chronyd', 'chrony')).toMatch(/chronyd$/)
  })

  it.skipIf(skipReason !== '')(
    'starts chronyd on loopback, answers SNTP, stops by PID',
    async () => {
      const chrony = await startChrony()
      try {
        expect(chrony.pid).toBeGreaterThan(0)
        expect(await sntpAnswers(chrony.port)).toBe(true)
        expect(process.kill(chrony.pid, 0)).toBe(true)
      } finally {
        await chrony.stop()
      }
      expect(() => process.kill(chrony.pid, 0)).toThrow()
      expect(await sntpAnswers(chrony.port, '127.0.0.1', 200)).toBe(false)
    },
  )

  it('names the problem when chronyd cannot start', () => {
    expect(new MissingServerError('chronyd', 'chrony').message).toMatch(/'chrony'/)
    expect(new ChronyNeedsRootError().message).toMatch(/root/)
  })
})
