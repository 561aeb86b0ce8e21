// Fails when a GC-fragile deadline comes back. On Node 20 a signal built by `AbortSignal.any`
// (often over an `AbortSignal.timeout`) is collected by a full GC when only its own listeners
// hold it, and then never fires. Source code uses `Deadline` / `withDeadline` / `linkSignals`
// from @p2pd/interface instead; tests may pass a plain `AbortSignal.timeout` as an argument.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const rules = [
  { pattern: /AbortSignal\.any\s*\(/, where: ['src', 'test', 'bench'] },
  { pattern: /AbortSignal\.timeout\s*\(/, where: ['src'] },
  { pattern: /\bdeadlineSignal\s*\(/, where: ['src', 'test', 'bench'] },
]

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* files(p)
    else if (/\.(ts|mts|cts|js|mjs)$/.test(e.name)) yield p
  }
}

const found = []
for (const top of ['packages', 'tools']) {
  for (const pkg of readdirSync(top, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue
    for (const kind of ['src', 'test', 'bench']) {
      let list
      try {
        list = [...files(join(top, pkg.name, kind))]
      } catch {
        continue
      }
      for (const file of list) {
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            const code = line.trim()
            if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return
            for (const r of rules) {
              if (r.where.includes(kind) && r.pattern.test(line)) {
                found.push(`${file}:${i + 1}: ${code}`)
              }
            }
          })
      }
    }
  }
}
if (found.length > 0) {
  console.error(
    'GC-fragile deadlines (use Deadline / withDeadline / linkSignals from @p2pd/interface):',
  )
  for (const f of found) console.error(`  ${f}`)
  process.exit(1)
}
console.log('deadlines: no AbortSignal.any / AbortSignal.timeout / deadlineSignal in source')
