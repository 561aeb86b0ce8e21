/**
 * `pnpm test:hardening [--short] [--only <text>] [--out FILE]`: runs every hardening scenario
 * (full version unless --short) with forced GCs and writes HARDENING.md and
 * hardening-results.json beside it. Exits 1 when any scenario missed its bar.
 */
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { renderReport } from './report.js'
import { allPassed, runAll } from './run.js'

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'HARDENING.md' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  console.log(`usage: pnpm test:hardening [--short] [--only TEXT] [--out FILE]

Runs the hardening suite (stranger attacks, signaling floods, TURN abuse, fault injection),
all on loopback with gc() forced every second, and writes FILE (default HARDENING.md) and
hardening-results.json beside it.
  --short      the quick version that npm test runs
  --only TEXT  only scenarios whose "group/name" contains TEXT`)
  process.exit(0)
}
if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  console.error('hardening: run with node --expose-gc (pnpm test:hardening does)')
  process.exit(2)
}
const startedAt = new Date()
const t0 = performance.now()
const runs = await runAll({
  short: values.short,
  ...(values.only ? { only: values.only } : {}),
  log: (l) => console.log(l),
})
const out = resolve(process.env.INIT_CWD ?? process.cwd(), values.out)
const command = `pnpm test:hardening${values.short ? ' --short' : ''}${values.only ? ` --only ${values.only}` : ''}`
writeFileSync(
  out,
  renderReport(runs, { command, short: values.short, startedAt, totalMs: performance.now() - t0 }),
)
writeFileSync(
  join(dirname(out), 'hardening-results.json'),
  `${JSON.stringify({ command, startedAt, node: process.version, runs }, null, 2)}\n`,
)
const ok = allPassed(runs)
console.log(
  `\nhardening: wrote ${out}; ${ok ? 'every scenario met its bar' : 'SOME SCENARIOS FAILED'}`,
)
process.exit(ok ? 0 : 1)
