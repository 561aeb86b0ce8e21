import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Deadline } from '@p2pd/interface'
import type { Scenario, ScenarioResult } from './scenario.js'

/** A scenario's results, or the error that stopped it (which counts as a failed row). */
export interface ScenarioRun {
  readonly scenario: Pick<Scenario, 'group' | 'name'>
  readonly results: readonly ScenarioResult[]
  readonly error?: string
  readonly ms: number
}

export interface RunOptions {
  readonly short: boolean
  /** Only scenarios whose `group/name` contains this. */
  readonly only?: string
  /** Budget per scenario (default 60 s short, 10 min full). */
  readonly budgetMs?: number
  /** Forced GC period while a scenario runs (default 1000 ms; 0 = none). */
  readonly gcEveryMs?: number
  readonly log?: (line: string) => void
}

/** Every scenario in `src/scenarios/` (each file default-exports an array of them). */
export async function loadScenarios(): Promise<Scenario[]> {
  const dir = fileURLToPath(new URL('./scenarios/', import.meta.url))
  const files = readdirSync(dir)
    .filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))
    .sort()
  const all: Scenario[] = []
  for (const f of files) {
    const mod = (await import(new URL(`./scenarios/${f}`, import.meta.url).href)) as {
      default?: Scenario[]
    }
    all.push(...(mod.default ?? []))
  }
  return all
}

/**
 * Runs one scenario under a deadline with `gc()` forced every second (when the process has
 * `--expose-gc`): every deadline in p2pd must hold through full collections.
 */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<ScenarioRun> {
  const log = options.log ?? (() => {})
  const gc = (globalThis as { gc?: () => void }).gc
  const every = options.gcEveryMs ?? 1000
  const collector = gc && every > 0 ? setInterval(gc, every) : undefined
  const budget = options.budgetMs ?? (options.short ? 60_000 : 600_000)
  const deadline = new Deadline(budget, undefined, `scenario ${scenario.name}`)
  const t0 = performance.now()
  try {
    const results = await deadline.race(
      scenario.run({ short: options.short, signal: deadline.signal, log }),
    )
    return { scenario, results, ms: performance.now() - t0 }
  } catch (err) {
    return { scenario, results: [], error: (err as Error).message, ms: performance.now() - t0 }
  } finally {
    deadline.dispose()
    if (collector) clearInterval(collector)
  }
}

/** Runs every scenario (or those matching `only`) one after another. */
export async function runAll(options: RunOptions): Promise<ScenarioRun[]> {
  const runs: ScenarioRun[] = []
  for (const s of await loadScenarios()) {
    if (options.only && !`${s.group}/${s.name}`.includes(options.only)) continue
    options.log?.(`› ${s.group}: ${s.name}`)
    const run = await runScenario(s, options)
    for (const r of run.results) {
      options.log?.(`  ${r.pass ? 'pass' : 'FAIL'}  ${r.name}: ${r.outcome}`)
    }
    if (run.error) options.log?.(`  FAIL  ${s.name}: ${run.error}`)
    runs.push(run)
  }
  return runs
}

/** True when every scenario ran to the end and every result met its bar. */
export function allPassed(runs: readonly ScenarioRun[]): boolean {
  return runs.every((r) => !r.error && r.results.length > 0 && r.results.every((x) => x.pass))
}
