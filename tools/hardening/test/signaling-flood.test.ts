import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'
import scenarios from '../src/scenarios/signaling-flood.js'

describe('hardening (short): signaling flood', () => {
  for (const s of scenarios) {
    it(s.name, async () => {
      const run = await runScenario(s, { short: true })
      expect(run.error).toBeUndefined()
      // Known peer and first contact under the free flood, first contact under the paid one.
      expect(run.results).toHaveLength(3)
      for (const r of run.results) expect(r, r.outcome).toMatchObject({ pass: true })
    }, 90_000)
  }
})
