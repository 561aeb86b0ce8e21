import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'
import scenarios from '../src/scenarios/faults.js'

describe('hardening (short): faults', () => {
  for (const s of scenarios) {
    it(s.name, async () => {
      const run = await runScenario(s, { short: true })
      expect(run.error).toBeUndefined()
      expect(run.results.length).toBeGreaterThan(0)
      for (const r of run.results) expect(r, r.outcome).toMatchObject({ pass: true })
    }, 60_000)
  }
})
