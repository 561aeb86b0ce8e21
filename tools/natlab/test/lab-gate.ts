import { describe, expect, it } from 'vitest'
import { isRoot } from '../src/index.js'

/**
 * The gate every lab test file opens with. The lab needs root on Linux (network namespaces,
 * nftables). Off CI without root, the suite is skipped and the reason is printed and put in its
 * title; in CI (`CI=true`) without root, a failing test says why instead: a lab test is never
 * silently skipped there. Returns the `describe` to declare the lab suite with.
 */
export function labSuite(what: string): (name: string, body: () => void) => void {
  const root = isRoot()
  const ci = process.env.CI === 'true'
  const why = `${what} skipped: they need root on Linux (network namespaces, nftables)`
  if (!root && !ci) console.warn(why)
  describe.runIf(!root && ci)(`${what}, in CI`, () => {
    it('runs as root (CI=true: the lab tests must not be skipped)', () => {
      expect.fail(`CI=true but not root: the ${what} cannot run`)
    })
  })
  return (name, body) => describe.skipIf(!root)(root ? `${name} (root)` : `${name} — ${why}`, body)
}
