import type { Reporter, TestModule } from 'vitest/node'

/** How many of the slowest files the summary names (where a faster suite has to start). */
const SLOWEST = 8

/**
 * Prints the slowest test files and the run's wall time, then the closing line CI reads:
 * `tests: N passed, N failed` (+ `, N skipped`), counting every project of the run (the
 * parallel and the serial ones). A test file that fails to load counts as one failure, so a
 * broken import can never pass.
 */
export default class SummaryReporter implements Reporter {
  private started = performance.now()

  onTestRunStart() {
    this.started = performance.now()
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
    let passed = 0
    let failed = unhandledErrors.length
    let skipped = 0
    for (const m of modules) {
      if (m.errors().length > 0) failed++
      for (const t of m.children.allTests()) {
        const s = t.result().state
        if (s === 'passed') passed++
        else if (s === 'failed') failed++
        else skipped++
      }
    }
    const files = modules.map((m) => ({
      name: `${m.project.name} ${m.relativeModuleId}`,
      ms: m.diagnostic().duration,
    }))
    const sum = files.reduce((s, f) => s + f.ms, 0)
    const wall = performance.now() - this.started
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`
    console.log('\nslowest test files:')
    for (const f of [...files].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST))
      console.log(`  ${secs(f.ms).padStart(8)}  ${f.name}`)
    console.log(`${files.length} files, ${secs(sum)} of tests in ${secs(wall)} of wall time`)
    console.log(
      `\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`,
    )
  }
}
