import type { Reporter, TestModule } from 'vitest/node'

/**
 * Prints the closing line CI reads: `tests: N passed, N failed` (+ `, N skipped`).
 * A test file that fails to load counts as one failure, so a broken import can never pass.
 */
export default class SummaryReporter implements Reporter {
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
    console.log(
      `\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`,
    )
  }
}
