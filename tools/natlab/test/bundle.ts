import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire, isBuiltin } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnInNamespace } from '../src/exec.js'
import type { StrategyRunner } from '../src/index.js'
import { PACKAGE_DIR } from '../src/node-in-ns.js'

/**
 * Runner and helper programs of the lab tests, bundled once per test file into one plain
 * JavaScript file. Every trial starts two fresh Node processes; through tsx each spends about
 * 1.3 s of CPU loading the loader and transpiling a hundred source files, which on a 2-core
 * machine running ten of them at once was most of a trial. The bundle is the same source,
 * transpiled by the same esbuild tsx uses, with the `@p2pd/source` condition, so the tests
 * still exercise the working tree; third-party packages stay outside it, imported from where
 * each workspace package resolves them.
 */

/** The parts of esbuild's API used here (it comes with tsx; not a direct dependency). */
interface Esbuild {
  build(opts: Record<string, unknown>): Promise<{ errors: unknown[] }>
}
interface ResolveArgs {
  path: string
  kind: string
  resolveDir: string
  pluginData?: unknown
}
interface PluginBuild {
  onResolve(
    o: { filter: RegExp },
    f: (a: ResolveArgs) => Promise<{ path: string; external: true } | undefined>,
  ): void
  resolve(
    path: string,
    o: { kind: string; resolveDir: string; pluginData: unknown },
  ): Promise<{ path: string; errors: unknown[] }>
}

const esbuild = (): Esbuild => {
  const req = createRequire(import.meta.url)
  return createRequire(req.resolve('tsx'))('esbuild') as Esbuild
}

const SKIP = Symbol('resolving')

/** Bare imports outside the workspace: external, by absolute path (pnpm does not hoist). */
const externalPackages = {
  name: 'external-packages',
  setup(build: PluginBuild) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === SKIP || isBuiltin(args.path) || args.path.startsWith('@p2pd/'))
        return undefined
      const r = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: SKIP,
      })
      return r.errors.length ? undefined : { path: r.path, external: true }
    })
  },
}

const PREFIX = 'p2pd-test-bundles-'

/** Removes the bundle folders of processes that no longer run. */
function removeStale(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue
    const pid = Number(name.slice(PREFIX.length))
    try {
      process.kill(pid, 0)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH')
        rmSync(join(tmpdir(), name), { recursive: true, force: true })
    }
  }
}

let dir: string | undefined
const bundles = new Map<string, Promise<string>>()

/**
 * `file` (TypeScript) bundled into one ESM file; built once per process. `metaUrl`: the value
 * of every `import.meta.url` in the bundle (for a program that reads a file next to its source).
 */
export function bundle(file: string, metaUrl?: string): Promise<string> {
  let out = bundles.get(file)
  if (!out) {
    if (!dir) {
      // One folder per process (vitest loads this module once per file), removed at a normal
      // exit; vitest stops its workers with a signal, so each new folder also removes those
      // whose process is gone.
      const base = join(tmpdir(), `${PREFIX}${process.pid}`)
      if (!existsSync(base)) {
        removeStale()
        mkdirSync(base)
        process.once('exit', () => rmSync(base, { recursive: true, force: true }))
      }
      dir = mkdtempSync(join(base, 'b-'))
    }
    const outfile = join(dir, `${bundles.size}.mjs`)
    out = esbuild()
      .build({
        entryPoints: [file],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        conditions: ['@p2pd/source'],
        plugins: [externalPackages],
        ...(metaUrl ? { define: { 'import.meta.url': JSON.stringify(metaUrl) } } : {}),
        logLevel: 'error',
      })
      .then(() => outfile)
    bundles.set(file, out)
  }
  return out
}

/** `runner` with its program bundled: plain `node bundle.mjs` instead of tsx. */
export async function bundled(runner: StrategyRunner, file: string): Promise<StrategyRunner> {
  const out = await bundle(file)
  return { ...runner, command: () => ({ argv: [process.execPath, out] }) }
}

/** `runInNamespace` for a bundled program: `file` run by plain Node inside namespace `ns`. */
export async function runBundled(
  ns: string,
  file: string,
  args: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<ChildProcess> {
  const out = await bundle(file)
  return spawnInNamespace(ns, process.execPath, [out, ...args], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...env },
  })
}
