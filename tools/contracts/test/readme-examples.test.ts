import { describe, expect, it } from 'vitest'
import { findRunnableExamples, runExample, runnableBlocks } from '../src/readme-examples.js'

// Every README block fenced as ```ts runnable is a program: it must start its own loopback
// servers, print something, clean up and exit 0 on its own, well within the deadline.
const examples = findRunnableExamples()

// Two examples at a time: each is a Node process with servers of its own, and the rest of the
// suite shares these two cores with them.
let running = 0
const waiting: Array<() => void> = []
async function oneOfTwo<T>(work: () => Promise<T>): Promise<T> {
  if (running < 2) running++
  else await new Promise<void>((go) => waiting.push(go)) // a finishing run hands its slot over
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

describe('README examples', () => {
  it('finds the runnable blocks (and only those)', () => {
    const md = [
      '```ts runnable',
      'a()',
      '```',
      '```ts',
      'b()',
      '```',
      '````ts runnable',
      'c()',
      '````',
    ]
    expect(runnableBlocks(md.join('\n'), 'x.md').map((e) => [e.line, e.code])).toEqual([
      [1, 'a()'],
      [7, 'c()'],
    ])
    expect(examples.length).toBeGreaterThanOrEqual(20)
  })

  it.concurrent.each(examples.map((e) => [`${e.readme}:${e.line}`, e] as const))(
    '%s runs and exits 0',
    async (_where, example) => {
      const run = await oneOfTwo(() => runExample(example, 45_000))
      const output = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`
      expect(run.timedOut, `timed out after ${run.ms.toFixed(0)} ms\n${output}`).toBe(false)
      expect(run.exitCode, output).toBe(0)
      expect(run.stdout.trim().length, `printed nothing\n${output}`).toBeGreaterThan(0)
    },
    180_000,
  )
})
