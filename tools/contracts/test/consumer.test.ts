import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { installTarballs, packAll, run, toCommonJs } from '../src/consumer.js'
import { repoRoot, runnableBlocks } from '../src/readme-examples.js'

// A library user's view: the packages as npm installs them from the packed tarballs (built
// dist, rewritten workspace ranges, `files` only), outside this workspace, used from ESM and
// from CommonJS with the node README's first example. Then a release dry run.
let dir: string
let app: string
let tarballs: string[]
const timings: Record<string, number> = {}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now()
  try {
    return await work()
  } finally {
    timings[what] = Math.round(performance.now() - started)
  }
}

async function nodeExample(): Promise<string> {
  const readme = await readFile(join(repoRoot, 'packages/node/README.md'), 'utf8')
  const [first] = runnableBlocks(readme, 'packages/node/README.md')
  if (!first) throw new Error('the node README has no runnable example')
  return first.code
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pd-consumer-'))
  app = join(dir, 'app')
  // `npm test` has just built everything, so this is turbo's cache; alone it builds.
  await timed('build', () =>
    run('pnpm', ['-s', 'build', '--output-logs=errors-only'], {
      cwd: repoRoot,
      timeoutMs: 900_000,
    }),
  )
  tarballs = await timed('pack', () => packAll(join(dir, 'tarballs')))
  await timed('npm install', () => installTarballs(app, tarballs))
}, 1_200_000)

afterAll(async () => {
  console.log(`consumer test timings (ms): ${JSON.stringify(timings)}`)
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('the packed packages, installed with npm', () => {
  it('packs every public package, and each resolves with its types from both module systems', async () => {
    expect(tarballs.length).toBeGreaterThanOrEqual(13)
    const names = tarballs.map((t) => /^p2pd-([a-z-]+)-\d/.exec(basename(t))?.[1]).sort()
    for (const name of names) {
      const manifest = JSON.parse(
        await readFile(join(app, 'node_modules/@p2pd', name as string, 'package.json'), 'utf8'),
      )
      expect(JSON.stringify(manifest.dependencies ?? {})).not.toContain('workspace:')
      for (const target of [
        manifest.exports['.'].import.default,
        manifest.exports['.'].import.types,
        manifest.exports['.'].require.default,
        manifest.exports['.'].require.types,
      ]) {
        await expect(
          readFile(join(app, 'node_modules/@p2pd', name as string, target)),
          `@p2pd/${name}: ${target}`,
        ).resolves.toBeDefined()
      }
    }
  })

  it('runs the node README example as ESM (.mjs)', async () => {
    await writeFile(join(app, 'example.mjs'), await nodeExample())
    const { stdout } = await timed('esm run', () =>
      run(process.execPath, ['example.mjs'], { cwd: app, timeoutMs: 60_000 }),
    )
    expect(stdout).toMatch(/^direct .* ms$/m)
    expect(stdout).toMatch(/says hello bob/)
  })

  it('runs the node README example as CommonJS (.cjs, require)', async () => {
    const cjs = toCommonJs(await nodeExample())
    expect(cjs).toContain("require('@p2pd/node')")
    await writeFile(join(app, 'example.cjs'), cjs)
    const { stdout } = await timed('cjs run', () =>
      run(process.execPath, ['example.cjs'], { cwd: app, timeoutMs: 60_000 }),
    )
    expect(stdout).toMatch(/says hello bob/)
  })

  it('typechecks the example against the installed types (ESM .mts and CommonJS .cts)', async () => {
    const code = await nodeExample()
    await writeFile(join(app, 'typed.mts'), code)
    await writeFile(join(app, 'typed.cts'), toCommonJs(code, { typescript: true }))
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc')
    const options = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022']
    const types = ['--typeRoots', join(repoRoot, 'node_modules/@types'), '--types', 'node']
    await timed('tsc', () =>
      run(process.execPath, [tsc, ...options, ...types, 'typed.mts', 'typed.cts'], {
        cwd: app,
        timeoutMs: 120_000,
      }),
    )
  }, 180_000) // above tsc's own 120 s deadline: a slow tsc fails with its output, not a timeout

  it('release dry run: changesets are consistent', async () => {
    const { stdout, stderr } = await timed('changeset status', () =>
      run('pnpm', ['-s', 'changeset', 'status'], { cwd: repoRoot, timeoutMs: 60_000 }),
    )
    expect(`${stdout}${stderr}`).toMatch(/@p2pd\/node/)
  })
})
