// Runs the runnable README examples and shows their output:
//   pnpm exec tsx tools/contracts/src/run-examples.ts [part-of-readme-path]
import { findRunnableExamples, runExample } from './readme-examples.js'

const filter = process.argv[2] ?? ''
let failed = 0
for (const example of findRunnableExamples().filter((e) => e.readme.includes(filter))) {
  const run = await runExample(example)
  const ok = run.exitCode === 0 && !run.timedOut && run.stdout.trim() !== ''
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${example.readme}:${example.line} (${run.ms.toFixed(0)} ms)`)
  console.log(`${run.stdout}${run.stderr}`.replace(/^/gm, '     | '))
}
process.exitCode = failed ? 1 : 0
