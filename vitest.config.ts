import { readdirSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

// One vitest run over every workspace package, each a project named after its folder, so
// `pnpm vitest run --project stun` runs one package. Tests import sibling packages from
// source through the `@p2pd/source` export condition: no build needed.
const dirs = ['packages', 'tools'].flatMap((top) =>
  readdirSync(top, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ name: d.name, root: `${top}/${d.name}` })),
)

export default defineConfig({
  test: {
    reporters: ['default', './scripts/vitest-summary-reporter.ts'],
    projects: dirs.map(({ name, root }) => ({
      ssr: { resolve: { conditions: ['@p2pd/source'] } },
      resolve: { conditions: ['@p2pd/source'] },
      test: {
        name,
        root,
        include: ['test/**/*.test.ts'],
        benchmark: { include: ['bench/**/*.bench.ts'] },
        // Deadline tests call gc() while they wait: a deadline must survive a full collection.
        execArgv: ['--expose-gc'],
        testTimeout: 30_000,
        hookTimeout: 60_000,
      },
    })),
  },
})
