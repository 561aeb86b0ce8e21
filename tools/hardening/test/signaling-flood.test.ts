import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'
import scenarios from '../src/scenarios/signaling-flood.js'

describe('hardening (short): signaling flood', () => {
  for (const s of scenarios) {
    it(s.name, async () => {
      const run = await runScenario(s, { short: true })
      expect(run.error).toBeUndefined()
      expect(run.results.length).toBeGreaterThan(0)
      for (const r of run.results) expect(r, r.outcome).toMatchObject({ pass: true })
    }, 60_000)
  }
})
