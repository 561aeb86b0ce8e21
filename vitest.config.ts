import { readdirSync, readFileSync } from 'node:fs'
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'

// One vitest run over every workspace package, each a project named after its folder, so
// `pnpm vitest run --project stun` runs one package. Tests import sibling packages from
// source through the `@p2pd/source` export condition: no build needed.
//
// P2PD_TEST_WORKERS=N (set by `npm test`) runs the files N at a time, except the serial
// ones, which move into a project `<folder>:serial` that runs one file at a time after all
// the others: NAT-lab files (network namespaces, heavy, they time packets) and files that
// time deadlines or rates against the wall clock (a busy neighbour would make them late).
// Without the variable every file stays in its folder's project (vitest's default worker
// count), so `--project natlab <file>` finds every file.
const dirs = ['packages', 'tools'].flatMap((top) =>
  readdirSync(top, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ name: d.name, root: `${top}/${d.name}` })),
)

const workers = Number(process.env.P2PD_TEST_WORKERS) || 0

/** Contents that make a file serial; `// vitest-serial` opts any file in. */
const SERIAL =
  /\b(Lab\.up|useLab|useNodeLab|runMatrix|underGc|gcEvery|forceGc)\(|\/\/ vitest-serial\b/
/** Serial by path: wall-clock deadline, rate and throughput bars, and the hardening bars. */
const SERIAL_PATHS =
  /^(interface\/test\/deadline|signal-mqtt\/test\/flood|turn\/test\/(tcp-throughput|server-limits)|hardening\/)/

function serialFiles(root: string): string[] {
  let names: string[]
  try {
    names = readdirSync(`${root}/test`, { recursive: true, encoding: 'utf8' })
  } catch {
    return []
  }
  return names
    .filter((f) => f.endsWith('.test.ts'))
    .filter(
      (f) =>
        SERIAL_PATHS.test(`${root.split('/')[1]}/test/${f}`) ||
        SERIAL.test(readFileSync(`${root}/test/${f}`, 'utf8')),
    )
    .map((f) => `test/${f}`)
}

function project(
  name: string,
  root: string,
  files: { include: string[]; exclude?: string[] },
  maxWorkers?: number,
): TestProjectInlineConfiguration {
  return {
    ssr: { resolve: { conditions: ['@p2pd/source'] } },
    resolve: { conditions: ['@p2pd/source'] },
    test: {
      name,
      root,
      include: files.include,
      exclude: [...(files.exclude ?? []), '**/node_modules/**'],
      benchmark: { include: ['bench/**/*.bench.ts'] },
      // Deadline tests call gc() while they wait: a deadline must survive a full collection.
      execArgv: ['--expose-gc'],
      // Generous: these guard against hangs; a loaded 2-core machine spawns tsx processes slowly.
      testTimeout: 60_000,
      hookTimeout: 120_000,
      ...(maxWorkers ? { maxWorkers } : {}),
    },
  }
}

const ALL = ['test/**/*.test.ts']

export default defineConfig({
  test: {
    reporters: ['default', './scripts/vitest-summary-reporter.ts'],
    projects: dirs.flatMap(({ name, root }) => {
      if (!workers) return [project(name, root, { include: ALL })]
      const serial = serialFiles(root)
      if (serial.length === 0) return [project(name, root, { include: ALL }, workers)]
      // maxWorkers 1 puts the serial project in vitest's sequential group, run after the others.
      return [
        project(name, root, { include: ALL, exclude: serial }, workers),
        project(`${name}:serial`, root, { include: serial }, 1),
      ]
    }),
  },
})
