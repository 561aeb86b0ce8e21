import { describe, expect, it } from 'vitest'
import { runScenario } from '../src/run.js'
import type { Scenario } from '../src/scenario.js'

/**
 * The short version of a scenario file, as `npm test` runs it: each scenario runs to the end
 * (gc() forced every second) and every row meets its bar.
 */
export function shortRun(
  title: string,
  scenarios: readonly Scenario[],
  options: { rows?: number; timeoutMs?: number; verbose?: boolean } = {},
): void {
  describe(`hardening (short): ${title}`, () => {
    for (const s of scenarios) {
      it(
        s.name,
        async () => {
          const run = await runScenario(s, {
            short: true,
            ...(options.verbose ? { log: (l: string) => console.log(l) } : {}),
          })
          expect(run.error).toBeUndefined()
          if (options.rows !== undefined) expect(run.results).toHaveLength(options.rows)
          else expect(run.results.length).toBeGreaterThan(0)
          for (const r of run.results) expect(r, r.outcome).toMatchObject({ pass: true })
        },
        options.timeoutMs ?? 60_000,
      )
    }
  })
}
