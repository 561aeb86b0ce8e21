// The other implementations live outside the workspace install (so `npm test` never pays for
// them): pinned in tools/bench/deps, installed on demand into tools/bench/.deps (gitignored).
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const pinnedDir = join(here, '..', 'deps')
export const depsDir = join(here, '..', '.deps')
const PINNED = ['package.json', 'package-lock.json', 'entry.mjs']

/** What the peers export (see deps/entry.mjs); typed loosely on purpose: they are not ours. */
// biome-ignore lint/suspicious/noExplicitAny: third-party modules loaded at run time
export type Peers = Record<string, any>

export interface PeerStatus {
  readonly available: boolean
  /** Installed version, or why the peer is missing. */
  readonly detail: string
}

function installedVersion(name: string): string | undefined {
  const file = join(depsDir, 'node_modules', name, 'package.json')
  if (!existsSync(file)) return undefined
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}

function upToDate(): boolean {
  const lock = join(depsDir, 'package-lock.json')
  if (!existsSync(join(depsDir, 'node_modules', '.package-lock.json')) || !existsSync(lock))
    return false
  return PINNED.every(
    (f) =>
      existsSync(join(depsDir, f)) &&
      readFileSync(join(depsDir, f), 'utf8') === readFileSync(join(pinnedDir, f), 'utf8'),
  )
}

/**
 * Installs the pinned peers with `npm ci` unless already there; never throws: a failed install
 * is reported per peer and the bench goes on without it.
 */
export function ensurePeers(
  log: (line: string) => void,
): Record<'libp2p' | 'hyperdht', PeerStatus> {
  let failure: string | undefined
  if (!upToDate()) {
    log(`installing the pinned peers into ${depsDir} (npm ci)…`)
    mkdirSync(depsDir, { recursive: true })
    for (const f of PINNED) copyFileSync(join(pinnedDir, f), join(depsDir, f))
    // No install scripts: hyperdht's native parts ship prebuilt binaries.
    const npm = spawnSync(
      'npm',
      ['ci', '--prefix', depsDir, '--ignore-scripts', '--no-audit', '--no-fund'],
      { encoding: 'utf8', timeout: 300_000 },
    )
    if (npm.status !== 0) {
      // npm's first error lines say what happened; the closing ones are boilerplate.
      const why = (npm.stderr || npm.error?.message || `exit ${npm.status}`)
        .split('\n')
        .filter((l) => !l.startsWith('npm warn'))
        .map((l) => l.replace(/^npm error\s*/, '').trim())
        .filter((l) => l && !/complete log|proxy|npm help/.test(l))
      failure = `npm ci failed: ${why.slice(0, 2).join('; ') || `exit ${npm.status}`}`
    }
  }
  const status = (pkg: string): PeerStatus => {
    const version = installedVersion(pkg)
    if (failure && !version) return { available: false, detail: failure }
    return version
      ? { available: true, detail: `${pkg} ${version}` }
      : { available: false, detail: `${pkg} not installed in ${depsDir}` }
  }
  return { libp2p: status('libp2p'), hyperdht: status('hyperdht') }
}

/** Loads the peers' entry module (in a worker process). */
export async function loadPeers(): Promise<Peers> {
  // js-libp2p 3.x calls Promise.withResolvers, which Node 20 lacks.
  const P = Promise as unknown as { withResolvers?: () => unknown }
  P.withResolvers ??= () => {
    let resolve: unknown
    let reject: unknown
    const promise = new Promise((a, b) => {
      resolve = a
      reject = b
    })
    return { promise, resolve, reject }
  }
  return (await import(pathToFileURL(join(depsDir, 'entry.mjs')).href)) as Peers
}
