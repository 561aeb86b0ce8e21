import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { MissingServerError, requireBinary } from '@p2pd/testkit'
import { NatlabError } from './errors.js'

/** Debian package of every tool the lab shells out to. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  ss: 'iproute2',
  nft: 'nftables',
  ethtool: 'ethtool',
  python3: 'python3',
  turnserver: 'coturn',
  turnutils_stunclient: 'coturn',
  mosquitto: 'mosquitto',
  sysctl: 'procps',
  miniupnpd: 'miniupnpd-nftables',
}

const resolved = new Map<string, string>()

/** Absolute path of a tool, or a typed error naming the Debian package to install. */
export function tool(name: string): string {
  const hit = resolved.get(name)
  if (hit) return hit
  try {
    const path =
      name === 'python3' ? pythonPath() : requireBinary(name, TOOL_PACKAGES[name] ?? name)
    resolved.set(name, path)
    return path
  } catch (err) {
    if (err instanceof MissingServerError || err instanceof Error)
      throw new NatlabError('NATLAB_MISSING_TOOL', err.message, { cause: err })
    throw err
  }
}

/** The system python3 first (a pyenv shim may not work under `ip netns exec`). */
function pythonPath(): string {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) {
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {}
  }
  return requireBinary('python3', 'python3')
}

/** Throws `NATLAB_NOT_ROOT` unless running as root on Linux. */
export function requireRoot(): void {
  if (process.platform !== 'linux')
    throw new NatlabError('NATLAB_NOT_ROOT', 'the NAT lab needs Linux (network namespaces)')
  if (process.getuid?.() !== 0)
    throw new NatlabError(
      'NATLAB_NOT_ROOT',
      'the NAT lab needs root (network namespaces, nftables, AF_PACKET): run it with sudo',
    )
}

/** True when the lab can run here (root on Linux). */
export function isRoot(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0
}

/** Checks every tool the topology needs, so a missing one fails before anything is built. */
export function requireLabTools(extra: readonly string[] = []): void {
  for (const t of ['ip', 'nft', 'ethtool', 'ss', ...extra]) tool(t)
}

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion; a non-zero exit becomes a `NATLAB_COMMAND` error. */
export function run(
  command: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; allowFail?: boolean } = {},
): Promise<RunResult & { code: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args as string[],
      { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        if (err && !opts.allowFail) {
          reject(
            new NatlabError(
              'NATLAB_COMMAND',
              `${command} ${args.join(' ')} failed (${code}): ${String(stderr).trim() || err.message}`,
              { cause: err },
            ),
          )
          return
        }
        resolve({ stdout: String(stdout), stderr: String(stderr), code })
      },
    )
    if (opts.input !== undefined) child.stdin?.end(opts.input)
  })
}

/** `ip …` */
export function ip(args: readonly string[], opts?: { allowFail?: boolean }) {
  return run(tool('ip'), args, opts)
}

/** Runs `command args` inside namespace `ns` (`ip netns exec`). */
export function nsRun(
  ns: string,
  command: string,
  args: readonly string[],
  opts?: { input?: string; timeoutMs?: number; allowFail?: boolean },
) {
  return run(tool('ip'), ['netns', 'exec', ns, command, ...args], opts)
}

/** Loads an nftables ruleset (one statement per line) inside `ns` with `nft -f -`. */
export function nftLoad(ns: string, ruleset: string) {
  return nsRun(ns, tool('nft'), ['-f', '-'], { input: ruleset })
}

/** Spawns a long-running process inside `ns`; the caller owns it and stops it by PID. */
export function spawnInNamespace(
  ns: string,
  command: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): ChildProcess {
  return spawn(tool('ip'), ['netns', 'exec', ns, command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...opts,
  })
}
