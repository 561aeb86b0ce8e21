import { describe, expect, it } from 'vitest'
import { renderReport } from '../src/report.js'
import { allPassed, runScenario } from '../src/run.js'
import type { Scenario } from '../src/scenario.js'

const ok: Scenario = {
  group: 'g',
  name: 'fine',
  run: async ({ short }) => [
    {
      name: 'a row',
      attempts: short ? 3 : 30,
      fault: 'x | y',
      outcome: 'held',
      bar: 'holds',
      pass: true,
      recoveryMs: 12.4,
    },
  ],
}
const broken: Scenario = {
  group: 'g',
  name: 'broken',
  run: async () => {
    throw new Error('server did not start')
  },
}
const hangs: Scenario = { group: 'h', name: 'hangs', run: () => new Promise(() => {}) }

describe('hardening runner', () => {
  it('turns a thrown or hanging scenario into a failed run, by its budget', async () => {
    const runs = [
      await runScenario(ok, { short: true }),
      await runScenario(broken, { short: true }),
      await runScenario(hangs, { short: true, budgetMs: 200 }),
    ]
    expect(runs[0]?.results[0]?.attempts).toBe(3)
    expect(runs[1]?.error).toBe('server did not start')
    expect(runs[2]?.error).toMatch(/timed out after 200 ms/)
    expect(allPassed(runs.slice(0, 1))).toBe(true)
    expect(allPassed(runs)).toBe(false)

    const md = renderReport(runs, {
      command: 'pnpm test:hardening --short',
      short: true,
      startedAt: new Date(0),
      totalMs: 1500,
    })
    expect(md).toContain('| a row | 3 | x \\| y | held | holds | 12 ms | – | pass |')
    expect(md).toContain('stopped: server did not start')
    expect(md).toContain('**1 met their bar, 2 did not**')
  })
})
