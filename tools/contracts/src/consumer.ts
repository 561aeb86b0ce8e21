import { execFile } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from './readme-examples.js'

export interface CommandResult {
  stdout: string
  stderr: string
  ms: number
}

/** Runs a command to completion within `timeoutMs`; rejects with its output on failure. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs: number },
): Promise<CommandResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' },
      },
      (err, stdout, stderr) => {
        const ms = performance.now() - started
        if (err) {
          const what = `${command} ${args.join(' ')} (in ${options.cwd}, ${ms.toFixed(0)} ms)`
          reject(new Error(`${what} failed: ${err.message}\n${stdout}\n${stderr}`, { cause: err }))
        } else resolve({ stdout, stderr, ms })
      },
    )
  })
}

/** `pnpm pack` of every package under packages/ into `dir`; returns the tarball paths. */
export async function packAll(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  await run('pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', dir], {
    cwd: repoRoot,
    timeoutMs: 120_000,
  })
  return (await readdir(dir)).filter((f) => f.endsWith('.tgz')).map((f) => join(dir, f))
}

/**
 * A fresh project in `dir` with every tarball installed by npm in one command, the way a user
 * installs before the first release (the `workspace:^` ranges were rewritten by `pnpm pack`;
 * third-party dependencies come from npm's cache or registry).
 */
export async function installTarballs(dir: string, tarballs: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true })
  const manifest = { name: 'p2pd-consumer', version: '0.0.0', private: true }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs],
    { cwd: dir, timeoutMs: 300_000 },
  )
}

const IMPORT = /^import\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'\s*;?[ \t]*$/gm

/**
 * The same program as CommonJS: named imports become `require` destructurings and the body
 * runs in an async function (CommonJS has no top-level await). Plain-JavaScript examples only.
 * With `typescript: true` the imports stay (in a `.cts` file TypeScript compiles them to
 * `require` and checks them against the packages' `require` types).
 */
export function toCommonJs(esm: string, options: { typescript?: boolean } = {}): string {
  const imports: string[] = []
  const body = esm.replace(IMPORT, (all, typeOnly: string | undefined, names: string, from) => {
    if (options.typescript) {
      imports.push(all.trim())
      return ''
    }
    if (typeOnly) return ''
    const bindings = names
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '' && !n.startsWith('type '))
      .map((n) => n.replace(/\s+as\s+/, ': '))
    return `const { ${bindings.join(', ')} } = require('${from}')`
  })
  if (/^\s*import\s/m.test(body)) throw new Error('toCommonJs: an import form it cannot convert')
  const head = options.typescript ? `${imports.join('\n')}\n` : "'use strict'\n"
  return `${head};(async () => {\n${body}\n})().catch((err) => {\n  console.error(err)\n  process.exitCode = 1\n})\n`
}
